/* The Twilio-family media stream adapter (--twilio_path, default /twilio, and the fixed aliases
 * /telnyx, /plivo, /signalwire, /exotel, /vonage on the data port). Codec:
 * src/proto/twilio.c; user-facing description: docs/protocol.md, "Twilio-family media streams".
 *
 * The platform connects and streams a call's audio; the server sends NOTHING on the socket (a
 * message on a unidirectional Twilio stream is error 31924): results leave out-of-band through
 * the call registry (sinks/calls.h: webhooks, subscribers of /v1/calls/{call_id}/events).
 *   connected        ignored
 *   start            the call: id = customParameters.call_id, else callSid / call_control_id /
 *                    callId / call_sid, else (Vonage) the call_id or uuid header, else the
 *                    stream id; webhook_url from customParameters (allow-listed by the
 *                    registry); the parameters go to call_start. Vonage: websocket:connected.
 *   media            one stream per track ("inbound", "outbound"; both_tracks: two independent
 *                    streams of one call, created at their first audio), fed at the format's
 *                    own rate (mu-law, A-law, L16; L16 big-endian swapped). Telnyx chunks go
 *                    through a reorder buffer (--twilio_reorder_window) by media.chunk.
 *                    Vonage: binary L16 little-endian messages, one "mixed" track.
 *   dtmf             a dtmf event of its track
 *   mark, unknown    ignored (Plivo playedStream, Vonage websocket:notify, ...)
 *   error (Telnyx)   logged; the call goes on
 *   stop             the streams finish (the utterance recording is ended, every final due is
 *                    still delivered), then call_end "stop". The platform closes the socket.
 * A socket that closes without stop (Plivo ends that way) ends the call the same way, reason
 * "closed". Protocol errors (stt_tw_err_t: bad JSON, bad base64, unknown codec, media before
 * start, a second start, an oversize message, an L16 payload of an odd byte count, binary in a
 * JSON dialect) are logged, counted in stt_protocol_errors_total{protocol, error} and answered
 * with a close frame carrying the table's code (1007, 1008, 1009, 1003) and "<error>: <detail>";
 * what the call said before still reaches the sinks (reason "protocol_error"). Tolerated
 * violations (an empty payload, parameters over the caps, Telnyx chunks duplicated, too late or
 * lost) are counted and the call goes on. A start that never comes is ended by --idle_timeout
 * (only start and audio count as activity).
 *
 * Threads: the loop thread only. Ownership: the state owns its streams until each one's
 * finish callback, the reorder buffers, the decode buffers and the call (until stt_call_end).
 * It is freed when the socket is gone and no stream is finishing. */
#include "../adapter.h"
#include "../conn.h"
#include "../sinks/calls.h"

#include "stt/clock.h"
#include "stt/error.h"
#include "stt/log.h"
#include "stt/reorder.h"
#include "stt/twilio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_TRACKS 2
#define FIRST_PAYLOAD_CAP 4096 /* grown on demand up to the message cap's worth */

typedef struct tw tw_t;

typedef struct {
    tw_t *tw;
    int index;            /* 0: inbound (Vonage: mixed), 1: outbound */
    stt_stream_t *stream; /* from its first audio until its finish callback */
    int finished;         /* handed to stt_conn_finish_stream: no more audio */
    stt_reorder_t *ro;    /* Telnyx with a window */
    int anchored;         /* anchor_s is set */
    double anchor_s;      /* the least (arrival - timestamp) seen: when timestamp 0 "was" */
} track_t;

struct tw {
    stt_conn_t *conn; /* NULL once the socket is gone */
    const stt_adapter_env_t *env;
    uint64_t id;
    const char *alias;    /* the platform the path names ("signalwire"), or NULL */
    const char *protocol; /* the dialect's name (static), for events, metrics and logs */
    stt_tw_dialect_t dialect;
    int started, stopped, in_finish, finishing;
    stt_tw_format_t fmt;
    stt_pcm_format_t pcm;
    char call_id[STT_CALL_ID_MAX + 1];
    stt_call_t *call;
    track_t tracks[N_TRACKS];
    const char *end_reason;
    uint8_t *buf; /* decoded payloads */
    size_t cap, max_cap;
    uint8_t *silence; /* reorder gaps */
    size_t silence_cap;
    uint64_t media, empty, late;
    double audio_s;
};

static const char *track_name(const tw_t *t, int i)
{
    return i == 1 ? "outbound" : t->dialect == STT_TW_DIALECT_VONAGE ? "mixed" : "inbound";
}

static void count(tw_t *t, stt_tw_err_t e)
{
    stt_metrics_protocol_error(&t->env->rec->m, t->protocol, stt_tw_err_name(e));
}

/* Logs, counts and closes with the error's code; the call's finals still go out. */
static int refuse(tw_t *t, stt_tw_err_t e, const char *detail)
{
    count(t, e);
    t->env->rec->m.recorder_errors++;
    STT_WARN(t->id, "twilio_bad_message", "%s call %s: %s: %s", t->protocol,
             t->call_id[0] ? t->call_id : "(not started)", stt_tw_err_name(e), detail);
    if (!t->end_reason)
        t->end_reason = "protocol_error";
    if (t->conn) {
        char reason[124];
        snprintf(reason, sizeof(reason), "%s: %s", stt_tw_err_name(e), detail);
        stt_conn_close_code(t->conn, stt_tw_err_close_code(e), reason);
    }
    return -1;
}

/* ---- audio ---- */

static void on_event(void *data, const stt_stream_event_t *ev)
{
    track_t *tr = data;
    tw_t *t = tr->tw;
    if (stt_call_stream_event(t->call, tr->index, track_name(t, tr->index), ev) == 1 && tr->stream)
        stt_stream_partial_delivered(tr->stream, ev->utt, ev->elapsed_s);
}

static void feed(track_t *tr, const uint8_t *data, size_t len)
{
    tw_t *t = tr->tw;
    size_t n = len / stt_tw_sample_bytes(t->fmt.encoding);
    stt_metrics_t *m = &t->env->rec->m;
    m->frames_total++;
    m->last_activity_s = stt_now_s();
    m->audio_seconds += (double)n / t->fmt.rate_hz;
    t->audio_s += (double)n / t->fmt.rate_hz;
    if (stt_stream_feed(tr->stream, t->pcm, t->fmt.rate_hz, data, n) != 0)
        STT_WARN(t->id, "twilio_feed", "%s call %s: %d Hz refused by the resampler", t->protocol,
                 t->call_id, t->fmt.rate_hz);
}

/* A reordered chunk, or silence for a lost one. */
static void reorder_emit(void *data, uint64_t seq, const uint8_t *bytes, size_t len)
{
    track_t *tr = data;
    tw_t *t = tr->tw;
    if (!tr->stream || tr->finished)
        return;
    if (!bytes) {
        count(t, STT_TW_ERR_CHUNK_MISSING);
        if (len > t->silence_cap) {
            t->silence = stt_realloc(t->silence, len);
            t->silence_cap = len;
        }
        int fill = t->fmt.encoding == STT_TW_ENC_MULAW  ? 0xff
                   : t->fmt.encoding == STT_TW_ENC_ALAW ? 0xd5
                                                        : 0x00;
        memset(t->silence, fill, len);
        bytes = t->silence;
        STT_DEBUG(t->id, "twilio_chunk_missing", "call %s track %s: chunk %llu lost: silence",
                  t->call_id, track_name(t, tr->index), (unsigned long long)seq);
    }
    feed(tr, bytes, len);
}

static track_t *open_track(tw_t *t, int i)
{
    track_t *tr = &t->tracks[i];
    if (tr->stream || t->stopped)
        return tr->stream && !tr->finished ? tr : NULL;
    stt_stream_params_t sp = stt_stream_default_params(t->env->rec);
    sp.log_id = t->id;
    tr->stream = stt_conn_open_stream(t->conn, t->env->rec, &sp, on_event, tr);
    if (tr->stream && t->dialect == STT_TW_DIALECT_TELNYX && t->env->cfg->twilio_reorder_window > 0)
        tr->ro = stt_reorder_create((size_t)t->env->cfg->twilio_reorder_window, 1, reorder_emit,
                                    tr);
    return tr->stream ? tr : NULL;
}

static void swap16(uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        uint8_t b = p[i];
        p[i] = p[i + 1];
        p[i + 1] = b;
    }
}

/* The media clock's lateness (stt_media_lateness_seconds): these streams carry no send stamp
 * (rtstt's server_sent_to_stt), but each media message carries its timestamp, the ms of audio
 * since the stream started. Once a message has passed the VAD, it is late by now - (anchor +
 * timestamp), the anchor being the earliest start that any message of the track implied so far
 * (a message early against it moves it and counts 0). What it sees: the network's jitter, the
 * sender's own, and the server's backlog in reading and processing, all relative to the track's
 * least-delayed message; not the constant part of the delay. */
static void note_lateness(tw_t *t, track_t *tr, uint64_t timestamp_ms)
{
    double start = stt_now_s() - (double)timestamp_ms / 1e3, late = 0;
    if (!tr->anchored || start < tr->anchor_s) {
        tr->anchored = 1;
        tr->anchor_s = start;
    } else {
        late = start - tr->anchor_s;
    }
    stt_hist_observe(&t->env->rec->m.media_lateness, late);
}

/* One payload of audio for track i (mutable: L16 big-endian is swapped in place). */
static int on_audio(tw_t *t, int i, uint8_t *data, size_t len, const stt_tw_msg_t *m)
{
    if (len == 0) {
        count(t, STT_TW_ERR_EMPTY_PAYLOAD);
        if (t->empty++ == 0)
            STT_WARN(t->id, "twilio_empty_payload", "%s call %s: empty media payload skipped",
                     t->protocol, t->call_id);
        return 0;
    }
    if (len % stt_tw_sample_bytes(t->fmt.encoding) != 0) {
        char why[96];
        snprintf(why, sizeof(why), "L16 payload of %zu bytes (not whole 16-bit samples)", len);
        return refuse(t, STT_TW_ERR_PARTIAL_SAMPLE, why);
    }
    if (t->fmt.encoding == STT_TW_ENC_L16BE)
        swap16(data, len);
    track_t *tr = open_track(t, i);
    if (!tr)
        return 0;
    t->media++;
    stt_conn_touch(t->conn);
    if (tr->ro && m && (m->present & STT_TW_HAS_CHUNK)) {
        uint64_t skipped = stt_reorder_stats(tr->ro)->missing_skipped;
        stt_reorder_result_t r = stt_reorder_push(tr->ro, m->chunk, data, len);
        if (r != STT_REORDER_EMITTED) {
            count(t, r == STT_REORDER_LATE ? STT_TW_ERR_CHUNK_LATE : STT_TW_ERR_CHUNK_DUPLICATE);
            if (t->late++ < 5)
                STT_WARN(t->id, "twilio_chunk_dropped", "%s call %s track %s: chunk %llu %s",
                         t->protocol, t->call_id, track_name(t, i),
                         (unsigned long long)m->chunk,
                         r == STT_REORDER_LATE ? "came after the reorder window: dropped"
                                               : "seen before: dropped");
        }
        if (stt_reorder_stats(tr->ro)->missing_skipped != skipped)
            count(t, STT_TW_ERR_CHUNK_MISSING);
    } else {
        feed(tr, data, len);
    }
    if (m && (m->present & STT_TW_HAS_TIMESTAMP))
        note_lateness(t, tr, m->timestamp_ms);
    return 0;
}

/* ---- the call's end ---- */

static void free_state(tw_t *t)
{
    for (int i = 0; i < N_TRACKS; i++)
        stt_reorder_destroy(t->tracks[i].ro);
    free(t->buf);
    free(t->silence);
    free(t);
}

/* Ends the call once no stream is finishing; frees the state once the socket is gone too. */
static void maybe_end(tw_t *t)
{
    if (t->in_finish || t->finishing > 0)
        return;
    if (t->stopped && t->call) {
        STT_INFO(t->id, "twilio_call_end", "%s call %s ended (%s, %.1f s of audio)", t->protocol,
                 t->call_id, t->end_reason, t->audio_s);
        stt_call_end(t->call, t->end_reason);
        t->call = NULL;
    }
    if (!t->conn)
        free_state(t);
}

static void stream_finished(void *data)
{
    track_t *tr = data;
    tw_t *t = tr->tw;
    tr->stream = NULL;
    t->finishing--;
    maybe_end(t);
}

/* Stop, or the socket gone: every stream finishes (its last final still delivered). */
static void finish_all(tw_t *t, stt_conn_t *c, const char *reason)
{
    if (t->stopped)
        return;
    t->stopped = 1;
    if (!t->end_reason)
        t->end_reason = reason;
    t->in_finish = 1;
    for (int i = 0; i < N_TRACKS; i++) {
        track_t *tr = &t->tracks[i];
        if (!tr->stream || tr->finished)
            continue;
        if (tr->ro)
            stt_reorder_flush(tr->ro);
        tr->finished = 1; /* the stream stays ours for its events until stream_finished */
        t->finishing++;
        stt_conn_finish_stream(c, tr->stream, stream_finished, tr);
    }
    t->in_finish = 0;
}

/* ---- messages ---- */

static int on_start(tw_t *t, stt_tw_msg_t *m)
{
    if (t->started)
        return refuse(t, STT_TW_ERR_START_TWICE, "a second start on one stream");
    if (m->present & STT_TW_HAS_EXTRA_HEADERS)
        stt_tw_split_headers(m); /* Plivo's custom parameters */
    for (size_t i = 0; i < m->params_dropped; i++)
        count(t, STT_TW_ERR_PARAM_DROPPED);
    if (m->params_dropped)
        STT_WARN(t->id, "twilio_parameters_dropped",
                 "%s: %zu custom parameters over the caps (%d, %d-byte names, %d-byte values) "
                 "dropped",
                 t->protocol, m->params_dropped, STT_TW_MAX_PARAMS, STT_TW_PARAM_NAME_MAX,
                 STT_TW_PARAM_VALUE_MAX);
    /* The call id: the application's own, else the platform's. */
    const char *cands[] = {stt_tw_param(m, "call_id"), m->call_id,
                           t->dialect == STT_TW_DIALECT_VONAGE ? stt_tw_param(m, "uuid") : NULL,
                           m->stream_id};
    const char *id = NULL;
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]) && !id; i++) {
        if (cands[i] && cands[i][0] && stt_call_id_valid(cands[i]) == 0)
            id = cands[i];
        else if (i == 0 && cands[i])
            STT_WARN(t->id, "twilio_call_id", "custom parameter call_id is not a usable id "
                     "(printable, 1-%d bytes): using the platform's", STT_CALL_ID_MAX);
    }
    if (!id)
        return refuse(t, STT_TW_ERR_NO_CALL_ID, "start names no call id (callSid, "
                      "call_control_id, callId or a call_id parameter)");
    snprintf(t->call_id, sizeof(t->call_id), "%s", id);
    t->fmt = m->format;
    t->pcm = t->fmt.encoding == STT_TW_ENC_MULAW  ? STT_PCM_MULAW
             : t->fmt.encoding == STT_TW_ENC_ALAW ? STT_PCM_ALAW
                                                  : STT_PCM_S16LE;
    stt_call_param_t params[STT_TW_MAX_PARAMS];
    for (size_t i = 0; i < m->n_params; i++) {
        params[i].name = m->params[i].name;
        params[i].value = m->params[i].value;
    }
    stt_call_info_t info = {.protocol = t->protocol,
                            .call_id = t->call_id,
                            .stream_id = m->stream_id[0] ? m->stream_id : NULL,
                            .webhook_url = stt_tw_param(m, "webhook_url"),
                            .params = params,
                            .n_params = m->n_params,
                            .conn_id = t->id};
    t->call = stt_call_start(t->env->calls, &info);
    t->started = 1;
    stt_conn_touch(t->conn);
    static const char *const enc[] = {"?", "mu-law", "A-law", "L16", "L16 big-endian"};
    STT_INFO(t->id, "twilio_start",
             "[PRODUCTION] %s call %s (stream %s) from %s: %s %d Hz, tracks%s%s", t->protocol,
             t->call_id, m->stream_id[0] ? m->stream_id : "-", stt_conn_ip(t->conn),
             enc[t->fmt.encoding], t->fmt.rate_hz,
             (m->tracks & (1u << STT_TW_TRACK_INBOUND)) || !m->tracks ? " inbound" : "",
             m->tracks & (1u << STT_TW_TRACK_OUTBOUND) ? " outbound" : "");
    return 0;
}

/* Parses into a buffer grown as the payloads need (up to the message cap's worth). */
static stt_tw_err_t parse(tw_t *t, const uint8_t *buf, size_t len, stt_tw_msg_t *m, char *err,
                          size_t errlen)
{
    for (;;) {
        stt_tw_err_t e = stt_tw_parse((const char *)buf, len,
                                      (size_t)t->env->cfg->twilio_max_message_bytes, t->buf,
                                      t->cap, m, err, errlen);
        if (e != STT_TW_ERR_PAYLOAD_TOOBIG || t->cap >= t->max_cap)
            return e;
        t->cap = t->cap * 4 > t->max_cap ? t->max_cap : t->cap * 4;
        t->buf = stt_realloc(t->buf, t->cap);
    }
}

static int on_text(tw_t *t, const uint8_t *buf, size_t len)
{
    stt_tw_msg_t *m = stt_malloc(sizeof(*m));
    char err[200];
    stt_tw_err_t e = parse(t, buf, len, m, err, sizeof(err));
    int rc = 0;
    if (e != STT_TW_ERR_OK) {
        rc = refuse(t, e, err);
        goto done;
    }
    if (t->dialect == STT_TW_DIALECT_NONE && m->dialect != STT_TW_DIALECT_NONE) {
        t->dialect = m->dialect;
        t->protocol = t->alias && m->dialect == STT_TW_DIALECT_TWILIO
                          ? t->alias
                          : stt_tw_dialect_name(m->dialect);
    }
    switch (m->event) {
    case STT_TW_EV_START:
        rc = on_start(t, m);
        break;
    case STT_TW_EV_MEDIA:
        if (!t->started)
            rc = refuse(t, STT_TW_ERR_NO_START, "media before start");
        else if (!t->stopped)
            rc = on_audio(t, m->track == STT_TW_TRACK_OUTBOUND ? 1 : 0, (uint8_t *)m->payload,
                          m->payload_len, m);
        break;
    case STT_TW_EV_DTMF:
        STT_INFO(t->id, "twilio_dtmf", "%s call %s: DTMF %s", t->protocol,
                 t->call_id[0] ? t->call_id : "(not started)", m->digit);
        stt_call_dtmf(t->call, m->track == STT_TW_TRACK_OUTBOUND ? 1 : 0,
                      track_name(t, m->track == STT_TW_TRACK_OUTBOUND ? 1 : 0), m->digit);
        break;
    case STT_TW_EV_STOP:
        STT_INFO(t->id, "twilio_stop", "%s call %s: stop", t->protocol,
                 t->call_id[0] ? t->call_id : "(not started)");
        if (t->started) {
            finish_all(t, t->conn, "stop");
            maybe_end(t);
        }
        break;
    case STT_TW_EV_ERROR:
        STT_WARN(t->id, "twilio_platform_error", "%s call %s: the platform reports error %llu "
                 "(%s: %s); the call goes on", t->protocol, t->call_id,
                 (unsigned long long)m->error_code, m->error_title, m->error_detail);
        break;
    default: /* connected, mark, unknown events */
        STT_DEBUG(t->id, "twilio_ignored", "%s: %s ignored", t->protocol, m->event_name);
        break;
    }
done:
    free(m);
    return rc;
}

static int on_message(void *state, int binary, const uint8_t *buf, size_t len)
{
    tw_t *t = state;
    if (!binary)
        return on_text(t, buf, len);
    if (t->dialect != STT_TW_DIALECT_VONAGE || !t->started)
        return refuse(t, STT_TW_ERR_BINARY,
                      t->dialect == STT_TW_DIALECT_VONAGE || t->dialect == STT_TW_DIALECT_NONE
                          ? "binary audio before websocket:connected"
                          : "binary message on a JSON media stream");
    if (t->stopped)
        return 0;
    if (len > t->cap) {
        t->buf = stt_realloc(t->buf, len);
        t->cap = len;
    }
    memcpy(t->buf, buf, len); /* the connection's buffer is not ours to change */
    return on_audio(t, 0, t->buf, len, NULL);
}

/* ---- lifecycle ---- */

static const char *path_alias(const char *path)
{
    static const char *const aliases[] = {"telnyx", "plivo", "signalwire", "exotel", "vonage"};
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        size_t n = strlen(aliases[i]);
        if (path[0] == '/' && strncmp(path + 1, aliases[i], n) == 0 &&
            (path[n + 1] == '\0' || path[n + 1] == '/' || path[n + 1] == '?'))
            return aliases[i];
    }
    return NULL;
}

static int adapter_open(const stt_adapter_env_t *env, stt_conn_t *c, const stt_request_t *req,
                        void **state)
{
    tw_t *t = stt_calloc(1, sizeof(*t));
    t->conn = c;
    t->env = env;
    t->id = stt_conn_id(c);
    t->alias = path_alias(req->path);
    t->protocol = t->alias ? t->alias : "twilio";
    for (int i = 0; i < N_TRACKS; i++) {
        t->tracks[i].tw = t;
        t->tracks[i].index = i;
    }
    size_t max = (size_t)env->cfg->twilio_max_message_bytes;
    t->max_cap = max / 4 * 3 + 3;
    t->cap = FIRST_PAYLOAD_CAP < t->max_cap ? FIRST_PAYLOAD_CAP : t->max_cap;
    t->buf = stt_malloc(t->cap);
    stt_conn_set_max_message(c, max);
    *state = t;
    STT_INFO(t->id, "twilio_connected", "media stream connection from %s (%s)", req->ip,
             req->path);
    return 0;
}

static void on_oversize(void *state, size_t bytes, size_t max)
{
    char why[96];
    snprintf(why, sizeof(why), "message of %zu bytes or more exceeds %zu", bytes, max);
    refuse(state, STT_TW_ERR_TOOBIG, why);
}

static void on_shutdown(void *state, stt_close_t why)
{
    tw_t *t = state;
    if (!t->end_reason)
        t->end_reason = why == STT_CLOSE_GOING_AWAY ? "shutdown" : "max_duration";
}

static void adapter_closed(void *state)
{
    tw_t *t = state;
    stt_conn_t *c = t->conn;
    t->conn = NULL;
    if (!t->started) {
        STT_INFO(t->id, "twilio_closed", "media stream closed before a start");
        free_state(t);
        return;
    }
    finish_all(t, c, "closed"); /* no stop came (Plivo), or it did: nothing left */
    maybe_end(t);
}

const stt_adapter_t stt_adapter_twilio = {
    .name = "twilio",
    .transport = STT_TRANSPORT_WS,
    .counts_as_call = 1,
    .out_of_band = 1,
    .open = adapter_open,
    .on_message = on_message,
    .on_oversize = on_oversize,
    .on_shutdown = on_shutdown,
    .on_closed = adapter_closed,
};
