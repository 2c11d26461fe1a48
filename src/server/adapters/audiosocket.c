/* The Asterisk AudioSocket adapter: a raw TCP port of its own (--audiosocket_port), one call per
 * connection. Codec: src/proto/audiosocket.c; wire layout: docs/protocol.md, "AudioSocket
 * (Asterisk)".
 *
 * Asterisk connects and sends the call's UUID first (anything else first: logged, hung up),
 * then audio: type 0x10 (slin 8 kHz, or the bytes of --audiosocket_format ulaw/alaw for
 * chan_audiosocket's c(ulaw)), 0x11-0x18 slin at 12-192 kHz (one stream; a change of rate
 * mid-call is resampled like any other). DTMF (0x03) becomes a dtmf event; 0x00 (hangup) or the
 * socket closing ends the call: the utterance recording then is finished and its final still
 * delivered (stt_conn_finish_stream), then call_end. 0xFF (error) is logged with its code and
 * the call goes on; unknown kinds are logged (the first few per call) and skipped; empty audio
 * messages are skipped. A framing violation (the first message not a 16-byte UUID, a DTMF of
 * other than one byte) hangs up that call with a log line; no other call notices.
 *
 * Results leave out-of-band, keyed by the UUID (sinks/calls.h: webhook, subscribers of
 * /v1/calls/<uuid>/events), track "caller". The server sends Asterisk nothing, except a hangup
 * message (00 00 00) before it closes the socket itself (drain, --max_session_duration): the
 * dialplan then goes on after AudioSocket(), and the words said before still reach the sinks.
 *
 * Threads: the loop thread only. Ownership: the state owns the parser, the stream (until its
 * closed callback) and the call (until stt_call_end there); freed in the stream's closed
 * callback, or in on_closed when no UUID ever came. */
#include "../adapter.h"
#include "../conn.h"
#include "../sinks/calls.h"

#include "stt/audiosocket.h"
#include "stt/clock.h"
#include "stt/error.h"
#include "stt/log.h"

#include <stdlib.h>
#include <string.h>

#define MAX_UNKNOWN_LOGGED 5 /* unknown kinds logged per call; the rest only counted */
#define TRACK_NAME "caller"

typedef struct {
    stt_conn_t *conn; /* NULL once the socket is gone */
    const stt_adapter_env_t *env;
    uint64_t id;
    stt_as_parser_t parser;
    stt_stream_t *stream; /* from the UUID on */
    stt_call_t *call;     /* from the UUID on; NULL when the registry refused it */
    char uuid[37];
    stt_pcm_format_t fmt10; /* what type 0x10 carries */
    const char *end_reason; /* "hangup", "closed", "shutdown", "protocol_error", ... */
    uint64_t unknown, errors, empty;
    double audio_s;
} as_t;

static void on_event(void *data, const stt_stream_event_t *ev)
{
    as_t *a = data;
    if (stt_call_stream_event(a->call, 0, TRACK_NAME, ev) == 1)
        stt_stream_partial_delivered(a->stream, ev->utt, ev->elapsed_s);
}

/* Logs, counts and hangs up (a hangup message, then the close). */
static void hang_up(as_t *a, stt_close_t why, const char *reason)
{
    if (!a->conn || stt_conn_closing(a->conn))
        return;
    uint8_t bye[3];
    stt_as_header(0x00, 0, bye);
    stt_conn_send(a->conn, 1, bye, sizeof(bye));
    stt_conn_close(a->conn, why, reason);
}

static int on_uuid(as_t *a, const stt_as_msg_t *m)
{
    if (a->stream) { /* a second UUID: the codec allows it, the call keeps its first */
        STT_WARN(a->id, "audiosocket_uuid_again", "call %s sent another UUID (%s): ignored",
                 a->uuid, m->uuid);
        return 0;
    }
    memcpy(a->uuid, m->uuid, sizeof(a->uuid));
    stt_call_info_t info = {.protocol = "audiosocket", .call_id = a->uuid, .conn_id = a->id};
    a->call = stt_call_start(a->env->calls, &info);
    stt_stream_params_t sp = stt_stream_default_params(a->env->rec);
    sp.log_id = a->id;
    a->stream = stt_conn_open_stream(a->conn, a->env->rec, &sp, on_event, a);
    STT_INFO(a->id, "audiosocket_call", "[PRODUCTION] AudioSocket call %s from %s", a->uuid,
             stt_conn_ip(a->conn));
    return 0;
}

static void on_audio(as_t *a, const stt_as_msg_t *m)
{
    if (m->len == 0) { /* Asterisk never sends one; harmless, so skipped */
        if (a->empty++ == 0)
            STT_WARN(a->id, "audiosocket_empty_audio", "call %s: empty audio message skipped",
                     a->uuid);
        return;
    }
    stt_pcm_format_t fmt = m->type == 0x10 ? a->fmt10 : STT_PCM_S16LE;
    size_t n = m->len / stt_pcm_sample_bytes(fmt); /* an odd trailing byte of slin is dropped */
    stt_metrics_t *mt = &a->env->rec->m;
    mt->frames_total++;
    mt->last_activity_s = stt_now_s();
    mt->audio_seconds += (double)n / m->rate_hz;
    a->audio_s += (double)n / m->rate_hz;
    stt_conn_touch(a->conn);
    if (n > 0 && stt_stream_feed(a->stream, fmt, m->rate_hz, m->payload, n) != 0) {
        STT_WARN(a->id, "audiosocket_rate", "call %s: %d Hz refused by the resampler", a->uuid,
                 m->rate_hz);
        a->end_reason = "protocol_error";
        hang_up(a, STT_CLOSE_BAD_INPUT, "sample rate refused");
    }
}

static int on_msg(const stt_as_msg_t *m, void *ud)
{
    as_t *a = ud;
    switch (m->kind) {
    case STT_AS_UUID:
        return on_uuid(a, m);
    case STT_AS_AUDIO:
        on_audio(a, m);
        return a->conn && stt_conn_closing(a->conn) ? 1 : 0;
    case STT_AS_DTMF: {
        char digit[2] = {m->digit, '\0'};
        STT_INFO(a->id, "audiosocket_dtmf", "call %s: DTMF %s", a->uuid, digit);
        stt_call_dtmf(a->call, 0, TRACK_NAME, digit);
        return 0;
    }
    case STT_AS_HANGUP:
        STT_INFO(a->id, "audiosocket_hangup", "call %s: Asterisk hung up", a->uuid);
        a->end_reason = "hangup";
        stt_conn_close(a->conn, STT_CLOSE_NORMAL, "hangup");
        return 1; /* nothing after a hangup is read */
    case STT_AS_ERROR:
        a->errors++;
        STT_WARN(a->id, "audiosocket_error",
                 "call %s: Asterisk reported error 0x%02x (%s); the call goes on", a->uuid,
                 m->error_code,
                 m->error_code == 0x01   ? "caller hung up"
                 : m->error_code == 0x02 ? "frame forwarding"
                 : m->error_code == 0x04 ? "memory"
                                         : "unknown code");
        return 0;
    case STT_AS_UNKNOWN:
    default:
        if (a->unknown++ < MAX_UNKNOWN_LOGGED)
            STT_WARN(a->id, "audiosocket_unknown_kind",
                     "call %s: unknown message type 0x%02x (%zu bytes) skipped", a->uuid, m->type,
                     m->len);
        return 0;
    }
}

static int on_message(void *state, int binary, const uint8_t *buf, size_t len)
{
    as_t *a = state;
    char err[200];
    int rc = stt_as_feed(&a->parser, buf, len, on_msg, a, err, sizeof(err));
    if (rc < 0) {
        STT_WARN(a->id, "audiosocket_violation", "%s%s%s: hanging up", err,
                 a->uuid[0] ? " in call " : "", a->uuid);
        a->env->rec->m.recorder_errors++;
        a->end_reason = "protocol_error";
        hang_up(a, STT_CLOSE_BAD_INPUT, err);
        return -1;
    }
    return a->conn && stt_conn_closing(a->conn) ? -1 : 0;
}

/* ---- lifecycle ---- */

static int adapter_open(const stt_adapter_env_t *env, stt_conn_t *c, const stt_request_t *req,
                        void **state)
{
    as_t *a = stt_calloc(1, sizeof(*a));
    a->conn = c;
    a->env = env;
    a->id = stt_conn_id(c);
    stt_as_init(&a->parser);
    const char *f = env->cfg->audiosocket_format;
    a->fmt10 = strcmp(f, "ulaw") == 0   ? STT_PCM_MULAW
               : strcmp(f, "alaw") == 0 ? STT_PCM_ALAW
                                        : STT_PCM_S16LE;
    stt_conn_set_accept(c, STT_CONN_ACCEPT_BINARY); /* raw bytes come as binary */
    *state = a;
    STT_INFO(a->id, "audiosocket_connected", "AudioSocket connection from %s", req->ip);
    return 0;
}

static void on_shutdown(void *state, stt_close_t why)
{
    as_t *a = state;
    a->end_reason = why == STT_CLOSE_GOING_AWAY ? "shutdown" : "max_duration";
    hang_up(a, why, why == STT_CLOSE_GOING_AWAY ? "server shutting down"
                                                : "maximum session duration reached");
}

static void as_free(as_t *a)
{
    stt_as_dispose(&a->parser);
    free(a);
}

static void stream_finished(void *data)
{
    as_t *a = data;
    stt_call_end(a->call, a->end_reason ? a->end_reason : "closed");
    STT_INFO(a->id, "audiosocket_call_end", "call %s ended (%s, %.1f s of audio)", a->uuid,
             a->end_reason ? a->end_reason : "closed", a->audio_s);
    as_free(a);
}

static void adapter_closed(void *state)
{
    as_t *a = state;
    stt_conn_t *c = a->conn;
    a->conn = NULL;
    if (!a->stream) { /* no UUID ever came: no call to end */
        STT_INFO(a->id, "audiosocket_closed", "AudioSocket connection closed before a call");
        as_free(a);
        return;
    }
    if (!a->end_reason)
        a->end_reason = "closed"; /* Asterisk closes the socket when the caller hangs up */
    stt_stream_t *s = a->stream;
    stt_conn_finish_stream(c, s, stream_finished, a); /* the last final, then call_end */
}

const stt_adapter_t stt_adapter_audiosocket = {
    .name = "audiosocket",
    .transport = STT_TRANSPORT_RAW,
    .counts_as_call = 1,
    .out_of_band = 1,
    .open = adapter_open,
    .on_message = on_message,
    .on_shutdown = on_shutdown,
    .on_closed = adapter_closed,
};
