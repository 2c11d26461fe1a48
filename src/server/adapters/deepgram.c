/* The Deepgram-compatible live streaming adapter: `/v1/listen` on the data port, so a client
 * of Deepgram's live API (the official SDKs, Pipecat, LiveKit Agents, ...) uses the server by
 * changing its base URL. Codec: src/proto/deepgram.c; protocol notes: docs/protocol.md,
 * "Deepgram-compatible live streaming (/v1/listen)".
 *
 * Handshake (authorize(), before admission and before the upgrade): --api_key checked by
 * stt_api_key_check (Authorization: Token|Bearer KEY, or the subprotocol offer `token, KEY`),
 * else HTTP 401 {"err_code":"INVALID_AUTH",...}; then the query parameters and the model name,
 * else HTTP 400 {"err_code":"Bad Request","err_msg":"Invalid '...' value of '...'.",...}.
 *
 * Audio: binary messages in the query's encoding (linear16, mulaw, alaw) at sample_rate,
 * interleaved when channels > 1: one stream per channel with multichannel=true (Results carry
 * channel_index [i, n]), else the channels are mixed down into one stream. Without `encoding`
 * the audio is linear16 at sample_rate (16000 by default), or what a WAV header at the start of
 * the first message says. An empty binary message is the deprecated form of CloseStream.
 * Control: KeepAlive (restarts the 10 s inactivity timer), Finalize (ends the utterance now:
 * its final says from_finalize; with "channel" only that channel), CloseStream (every
 * utterance ended, the remaining Results sent, then Metadata, then close 1000).
 * Results: partials (is_final false) only with interim_results=true; finals (is_final true)
 * with speech_final true when the turn ended by endpointing (endpointing=false: never);
 * UtteranceEnd once utterance_end_ms of stream time passed after the last word with no word
 * since; SpeechStarted at each voice onset with vad_events=true. Times: stream seconds.
 * Inactivity: no audio and no KeepAlive for 10 s closes with 1011 "NET-0001" (on_tick).
 * Drain (SIGTERM) or --max_session_duration: as CloseStream, then close 1001 (drain) or 1000.
 * Bad control messages close with 1007/1008/1009 (no error message: Deepgram's listen API has
 * none); each is counted in stt_protocol_errors_total{protocol="deepgram"}.
 *
 * Threads: the loop thread only. Ownership: the state owns its streams until the last one's
 * closed callback frees the state (it may outlive the connection while jobs are out). */
#include "../adapter.h"
#include "../conn.h"
#include "api_key.h"
#include "models.h"

#include "stt/clock.h"
#include "stt/deepgram.h"
#include "stt/error.h"
#include "stt/g711.h"
#include "stt/log.h"
#include "stt/text.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#define PROTOCOL "deepgram"
#define IDLE_CLOSE_S 10.0 /* Deepgram's NET-0001 window */
#define CHUNK_FRAMES 2048 /* frames split or mixed per pass (bounded stack buffers) */
#define MIN_ENDPOINT_S 0.05

typedef struct dg dg_t;

typedef struct {
    dg_t *d;
    int index;
    stt_stream_t *stream;
    uint32_t rec_utt;      /* the utterance that started last (0: none yet) */
    uint32_t finalize_utt; /* the utterance a Finalize ended: its final says from_finalize */
    uint32_t endpoint_utt; /* the last utterance the turn machine ended (speech_final) */
    int in_finalize; /* inside stt_stream_finalize: 1 for Finalize, 2 for CloseStream */
    int finalize_owed;     /* a Finalize found only finals in flight: the last one answers it */
    double last_word_end_s; /* stream seconds */
    int ue_pending;         /* words since the last UtteranceEnd */
    char *last_interim;
} chan_t;

struct dg {
    stt_conn_t *conn; /* NULL once the socket is gone */
    const stt_adapter_env_t *env;
    uint64_t id;
    stt_dg_params_t p;
    stt_pcm_format_t fmt;
    int rate_hz, wire_channels, n_chan;
    chan_t ch[STT_DG_MAX_CHANNELS];
    int open_streams; /* streams whose closed callback has not run */
    uint8_t carry[16]; /* a partial frame, joined to the next message */
    size_t n_carry;
    int audio_seen;
    int closing;       /* CloseStream received (or the server shuts the call): finishing */
    int shutdown;      /* 0, or the stt_close_t + 1 of the server's on_shutdown */
    int finished;      /* Metadata sent, close asked */
    uint64_t frames;   /* wire frames received (per channel) */
    EVP_MD_CTX *sha;
    char request_id[40], created[32], model_name[STT_MODEL_NAME_MAX], model_uuid[40];
    uint64_t finals_sent, interims_sent;
};

/* ---- identity ---- */

static void uuid_from_bytes(const uint8_t b[16], char out[40])
{
    snprintf(out, 40,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], (b[6] & 0x0f) | 0x40, b[7], (b[8] & 0x3f) | 0x80, b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void random_uuid(char out[40])
{
    uint8_t b[16] = {0};
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) { /* never in practice: time-based */
        double t = stt_now_s();
        memcpy(b, &t, sizeof(t));
    }
    uuid_from_bytes(b, out);
}

/* A stable id for a model name (the same name always gives the same uuid). */
static void name_uuid(const char *name, char out[40])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(name, strlen(name), md, &n, EVP_sha256(), NULL);
    uuid_from_bytes(md, out);
}

static void iso_now(char out[32])
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char base[24];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", base, (int)(tv.tv_usec / 1000));
}

/* ---- output ---- */

/* A control message Deepgram's API has no answer for: counted, logged, closed with `code`. */
static int fail(dg_t *d, int code, const char *name, const char *msg)
{
    STT_WARN(d->id, "deepgram_error", "%s: %s", name, msg);
    stt_metrics_protocol_error(&d->env->rec->m, PROTOCOL, name);
    if (d->conn)
        stt_conn_close_code(d->conn, code, msg);
    return -1;
}

static void send_results(chan_t *ch, const stt_stream_event_t *ev, int is_final,
                         int speech_final, int from_finalize)
{
    dg_t *d = ch->d;
    const stt_result_t *res = ev ? ev->result : NULL;
    double start = ev ? (double)ev->start_sample / 16000.0
                      : (ch->stream ? (double)stt_stream_position(ch->stream) / 16000.0 : 0);
    double end = ev ? (double)ev->end_sample / 16000.0 : start;
    int plain = !d->p.punctuate && !d->p.smart_format;
    char *trimmed = stt_text_trimmed(res && res->text ? res->text : "");
    char *text = plain ? stt_dg_plain_text(trimmed) : NULL;
    size_t nw = res ? res->n_words : 0;
    stt_dg_word_t *words = nw ? stt_calloc(nw, sizeof(*words)) : NULL;
    for (size_t i = 0; i < nw; i++) {
        words[i].word = res->words[i].word;
        words[i].start_s = start + res->words[i].start_s;
        words[i].end_s = start + res->words[i].end_s;
        words[i].confidence = res->words[i].confidence;
    }
    stt_dg_results_t r = {.channel_index = ch->index,
                          .channels = d->n_chan,
                          .start_s = start,
                          .duration_s = end > start ? end - start : 0,
                          .is_final = is_final,
                          .speech_final = speech_final,
                          .from_finalize = from_finalize,
                          .transcript = text ? text : trimmed,
                          .confidence = res ? res->confidence : 0,
                          .words = words,
                          .n_words = nw,
                          .request_id = d->request_id,
                          .model_name = d->model_name,
                          .model_uuid = d->model_uuid};
    stt_conn_send_json(d->conn, stt_dg_build_results(&r));
    if (nw) {
        ch->last_word_end_s = words[nw - 1].end_s;
        ch->ue_pending = 1;
    } else if (trimmed[0]) { /* words without times: the result's end */
        ch->last_word_end_s = end;
        ch->ue_pending = 1;
    }
    free(words);
    free(text);
    free(trimmed);
}

/* UtteranceEnd once utterance_end_ms of stream time passed after the last word, nothing
 * recording and no final due (a final may still bring words). `force`: at CloseStream. */
static void check_utterance_end(chan_t *ch, int force)
{
    dg_t *d = ch->d;
    if (!d->p.utterance_end_ms || !ch->ue_pending || !ch->stream)
        return;
    if (!force && (stt_stream_recording(ch->stream) || stt_stream_finals_pending(ch->stream)))
        return;
    double now = (double)stt_stream_position(ch->stream) / 16000.0;
    if (!force && now - ch->last_word_end_s < d->p.utterance_end_ms / 1000.0)
        return;
    ch->ue_pending = 0;
    stt_conn_send_json(d->conn,
                       stt_dg_build_utterance_end(ch->index, d->n_chan, ch->last_word_end_s));
}

/* After CloseStream: once every stream is idle, Metadata and close 1000. */
static void maybe_finish(dg_t *d)
{
    if (!d->closing || d->finished || !d->conn || stt_conn_closing(d->conn))
        return;
    for (int i = 0; i < d->n_chan; i++)
        if (d->ch[i].stream && !stt_stream_idle(d->ch[i].stream))
            return;
    d->finished = 1;
    for (int i = 0; i < d->n_chan; i++)
        check_utterance_end(&d->ch[i], 1);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1] = "";
    if (d->sha && EVP_DigestFinal_ex(d->sha, md, &n) == 1)
        for (unsigned int i = 0; i < n; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
    stt_dg_metadata_t m = {.request_id = d->request_id,
                           .sha256_hex = hex,
                           .created = d->created,
                           .duration_s = (double)d->frames / d->rate_hz,
                           .channels = d->wire_channels,
                           .model_name = d->model_name,
                           .model_uuid = d->model_uuid};
    stt_conn_send_json(d->conn, stt_dg_build_metadata(&m));
    STT_INFO(d->id, "deepgram_closestream", "%s: %llu final(s) sent, closing",
             d->shutdown ? "shutdown" : "CloseStream", (unsigned long long)d->finals_sent);
    if (d->shutdown)
        stt_conn_close(d->conn, (stt_close_t)(d->shutdown - 1),
                       d->shutdown - 1 == STT_CLOSE_GOING_AWAY ? "server shutting down"
                                                               : "maximum session duration");
    else
        stt_conn_close(d->conn, STT_CLOSE_NORMAL, "CloseStream");
}

static void on_event(void *data, const stt_stream_event_t *ev)
{
    chan_t *ch = data;
    dg_t *d = ch->d;
    switch (ev->kind) {
    case STT_SEV_SPEECH_START:
        if (d->p.vad_events)
            stt_conn_send_json(d->conn, stt_dg_build_speech_started(ch->index, d->n_chan,
                                                     (double)ev->start_sample / 16000.0));
        return;
    case STT_SEV_RECORDING_STOP:
        if (ch->in_finalize == 1)
            ch->finalize_utt = ev->utt;
        else if (ch->in_finalize == 0)
            ch->endpoint_utt = ev->utt; /* 2: ended by CloseStream, neither */
        return;
    case STT_SEV_RECORDING_START:
        ch->rec_utt = ev->utt;
        free(ch->last_interim);
        ch->last_interim = NULL;
        return;
    case STT_SEV_PARTIAL: {
        if (!d->p.interim_results)
            return;
        char *text = stt_text_trimmed(ev->result->text);
        if (text[0] && (!ch->last_interim || strcmp(text, ch->last_interim) != 0)) {
            send_results(ch, ev, 0, 0, 0);
            stt_stream_partial_delivered(ch->stream, ev->utt, ev->elapsed_s);
            d->interims_sent++;
            free(ch->last_interim);
            ch->last_interim = text;
        } else {
            free(text);
        }
        return;
    }
    case STT_SEV_FINAL: {
        free(ch->last_interim);
        ch->last_interim = NULL;
        int from_finalize = ev->utt == ch->finalize_utt;
        if (ch->finalize_owed && ev->finals_pending == 0) { /* the last final in flight */
            from_finalize = 1;
            ch->finalize_owed = 0;
        }
        int speech_final = ev->utt == ch->endpoint_utt &&
                           d->p.endpointing_ms != STT_DG_ENDPOINTING_OFF;
        char *text = stt_text_trimmed(ev->result->text);
        /* An empty final (noise taken for speech) is not sent, unless a Finalize waits for it. */
        if (text[0] || from_finalize) {
            send_results(ch, ev, 1, speech_final, from_finalize);
            d->finals_sent++;
        }
        free(text);
        check_utterance_end(ch, 0);
        maybe_finish(d);
        return;
    }
    case STT_SEV_FINAL_FAILED:
        STT_WARN(d->id, "deepgram_final_failed", "utterance %u: %s", ev->utt,
                 ev->message ? ev->message : "engine error");
        if (ev->utt == ch->finalize_utt ||
            (ch->finalize_owed && ev->finals_pending == 0)) { /* the Finalize gets its answer */
            ch->finalize_owed = 0;
            send_results(ch, NULL, 1, 0, 1);
        }
        maybe_finish(d);
        return;
    case STT_SEV_IDLE:
        maybe_finish(d);
        return;
    default:
        return;
    }
}

/* ---- input ---- */

static void finalize_channel(chan_t *ch)
{
    if (!ch->stream)
        return;
    ch->in_finalize = 1;
    int rc = stt_stream_finalize(ch->stream, 1);
    ch->in_finalize = 0;
    if (rc == 0 && ch->finalize_utt == ch->rec_utt)
        return; /* the recording_stop named the utterance: its final answers */
    if (stt_stream_finals_pending(ch->stream) > 0)
        ch->finalize_owed = 1; /* the last final in flight answers */
    else /* nothing to end: an empty final answers the Finalize at once */
        send_results(ch, NULL, 1, 0, 1);
}

static void finish_all(dg_t *d);

static int on_text(dg_t *d, const uint8_t *buf, size_t len)
{
    stt_dg_control_t ctl;
    int code = 1000;
    char err[200];
    if (stt_dg_parse_control((const char *)buf, len, &ctl, &code, err, sizeof(err)) != 0)
        return fail(d, code, code == 1009 ? "message_too_large"
                             : code == 1007 ? "bad_control_message"
                                            : "unknown_control_message",
                    err);
    stt_conn_touch(d->conn); /* any control message counts as activity, KeepAlive included */
    switch (ctl.kind) {
    case STT_DG_CTL_KEEPALIVE:
        return 0;
    case STT_DG_CTL_FINALIZE:
        if (d->closing)
            return 0;
        if (ctl.channel >= d->n_chan)
            return fail(d, 1008, "bad_finalize_channel",
                        "Finalize names a channel the stream does not have");
        for (int i = 0; i < d->n_chan; i++)
            if (ctl.channel < 0 || ctl.channel == i)
                finalize_channel(&d->ch[i]);
        return 0;
    case STT_DG_CTL_CLOSESTREAM:
        break;
    }
    finish_all(d);
    return 0;
}

/* Drain or --max_session_duration: as CloseStream (the last Results and Metadata), then the
 * close the server asked for (1001 on drain). */
static void on_shutdown(void *state, stt_close_t why)
{
    dg_t *d = state;
    if (!d->closing)
        d->shutdown = (int)why + 1;
    finish_all(d);
}

static void finish_all(dg_t *d)
{
    if (!d->closing) {
        d->closing = 1;
        for (int i = 0; i < d->n_chan; i++) {
            d->ch[i].in_finalize = 2;
            stt_stream_finalize(d->ch[i].stream, 1);
            d->ch[i].in_finalize = 0;
            stt_stream_end_input(d->ch[i].stream, 0);
        }
        maybe_finish(d);
    }
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* Without `encoding`, a WAV header at the start of the first message sets the format (as
 * Deepgram reads containerized audio). Returns the header's length to skip (0: none), or -1
 * for a WAV this server cannot take. */
static long wav_header(dg_t *d, const uint8_t *b, size_t n)
{
    if (d->p.encoding_given || n < 12 || memcmp(b, "RIFF", 4) != 0 || memcmp(b + 8, "WAVE", 4))
        return 0;
    size_t o = 12;
    int have_fmt = 0;
    while (o + 8 <= n) {
        uint32_t sz = le32(b + o + 4);
        if (memcmp(b + o, "fmt ", 4) == 0 && sz >= 16 && o + 8 + 16 <= n) {
            const uint8_t *f = b + o + 8;
            unsigned tag = le16(f), chans = le16(f + 2), bits = le16(f + 14);
            uint32_t rate = le32(f + 4);
            if (tag == 0xFFFE && sz >= 40 && o + 8 + 26 <= n)
                tag = le16(f + 24); /* WAVE_FORMAT_EXTENSIBLE: the subformat's tag */
            if (tag == 1 && bits == 16)
                d->fmt = STT_PCM_S16LE;
            else if (tag == 7 && bits == 8)
                d->fmt = STT_PCM_MULAW;
            else if (tag == 6 && bits == 8)
                d->fmt = STT_PCM_ALAW;
            else
                return -1;
            if (chans < 1 || chans > STT_DG_MAX_CHANNELS || rate < STT_DG_MIN_RATE_HZ ||
                rate > STT_DG_MAX_RATE_HZ || (d->p.multichannel && (int)chans != d->n_chan))
                return -1;
            d->rate_hz = (int)rate;
            d->wire_channels = (int)chans;
            have_fmt = 1;
        } else if (memcmp(b + o, "data", 4) == 0) {
            return have_fmt ? (long)(o + 8) : -1;
        }
        o += 8 + (size_t)sz + (sz & 1);
    }
    return -1; /* the header does not end in the first message */
}

/* Feeds whole frames (frame = one sample of every wire channel). */
static int feed_frames(dg_t *d, const uint8_t *buf, size_t frames)
{
    size_t bps = stt_pcm_sample_bytes(d->fmt), fb = bps * (size_t)d->wire_channels;
    d->frames += frames;
    d->env->rec->m.audio_seconds += (double)frames / d->rate_hz;
    if (d->wire_channels == 1)
        return stt_stream_feed(d->ch[0].stream, d->fmt, d->rate_hz, buf, frames);
    for (size_t done = 0; done < frames;) {
        size_t n = frames - done < CHUNK_FRAMES ? frames - done : CHUNK_FRAMES;
        const uint8_t *in = buf + done * fb;
        if (d->n_chan > 1) { /* multichannel: each channel's samples to its own stream */
            uint8_t one[CHUNK_FRAMES * 2];
            for (int c = 0; c < d->n_chan; c++) {
                for (size_t i = 0; i < n; i++)
                    memcpy(one + i * bps, in + i * fb + (size_t)c * bps, bps);
                if (stt_stream_feed(d->ch[c].stream, d->fmt, d->rate_hz, one, n) != 0)
                    return -1;
            }
        } else { /* mixed down: the mean of the channels */
            int16_t mix[CHUNK_FRAMES];
            for (size_t i = 0; i < n; i++) {
                int sum = 0;
                for (int c = 0; c < d->wire_channels; c++) {
                    const uint8_t *s = in + i * fb + (size_t)c * bps;
                    sum += d->fmt == STT_PCM_S16LE ? (int16_t)le16(s)
                           : d->fmt == STT_PCM_MULAW ? stt_g711_mulaw_to_s16(*s)
                                                     : stt_g711_alaw_to_s16(*s);
                }
                mix[i] = (int16_t)(sum / d->wire_channels);
            }
            uint8_t le[CHUNK_FRAMES * 2];
            for (size_t i = 0; i < n; i++) {
                le[2 * i] = (uint8_t)(mix[i] & 0xff);
                le[2 * i + 1] = (uint8_t)((uint16_t)mix[i] >> 8);
            }
            if (stt_stream_feed(d->ch[0].stream, STT_PCM_S16LE, d->rate_hz, le, n) != 0)
                return -1;
        }
        done += n;
    }
    return 0;
}

static int on_audio(dg_t *d, const uint8_t *buf, size_t len)
{
    if (d->closing)
        return 0;
    if (len == 0) /* the deprecated empty-message form of CloseStream */
        return on_text(d, (const uint8_t *)"{\"type\":\"CloseStream\"}", 22);
    stt_metrics_t *m = &d->env->rec->m;
    m->frames_total++;
    m->last_activity_s = stt_now_s();
    stt_conn_touch(d->conn);
    if (!d->audio_seen) {
        d->audio_seen = 1;
        long skip = wav_header(d, buf, len);
        if (skip < 0)
            return fail(d, 1002, "unsupported_wav",
                        "DATA-0000: the WAV header is not PCM16, mu-law or A-law mono..8 "
                        "channels at 8..48 kHz, or does not end in the first message");
        buf += skip;
        len -= (size_t)skip;
    }
    if (d->sha)
        EVP_DigestUpdate(d->sha, buf, len);
    size_t fb = stt_pcm_sample_bytes(d->fmt) * (size_t)d->wire_channels;
    if (d->n_carry) { /* complete the partial frame of the previous message */
        size_t take = fb - d->n_carry < len ? fb - d->n_carry : len;
        memcpy(d->carry + d->n_carry, buf, take);
        d->n_carry += take;
        buf += take;
        len -= take;
        if (d->n_carry < fb)
            return 0;
        d->n_carry = 0;
        if (feed_frames(d, d->carry, 1) != 0)
            return fail(d, 1011, "bad_sample_rate", "the resampler refused the sample rate");
    }
    size_t frames = len / fb;
    if (frames && feed_frames(d, buf, frames) != 0)
        return fail(d, 1011, "bad_sample_rate", "the resampler refused the sample rate");
    d->n_carry = len - frames * fb;
    memcpy(d->carry, buf + frames * fb, d->n_carry);
    for (int i = 0; i < d->n_chan; i++)
        check_utterance_end(&d->ch[i], 0);
    return 0;
}

static int on_message(void *state, int binary, const uint8_t *buf, size_t len)
{
    dg_t *d = state;
    return binary ? on_audio(d, buf, len) : on_text(d, buf, len);
}

static void on_oversize(void *state, size_t bytes, size_t max)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "message of %zu bytes exceeds the %zu-byte limit", bytes, max);
    fail(state, 1009, "message_too_large", msg);
}

/* 10 s without audio or a control message: Deepgram's NET-0001 close. */
static int on_tick(void *state, double idle_s)
{
    dg_t *d = state;
    if (d->closing || !d->conn || stt_conn_closing(d->conn) || idle_s < IDLE_CLOSE_S)
        return 0;
    STT_INFO(d->id, "deepgram_idle", "no audio or KeepAlive for %.0f s: NET-0001", idle_s);
    d->env->rec->m.sessions_closed_idle++;
    stt_metrics_protocol_error(&d->env->rec->m, PROTOCOL, "net_0001");
    stt_conn_close_code(d->conn, 1011, "NET-0001");
    return 1;
}

/* ---- handshake ---- */

/* The query of the request parsed, the model checked: 0, or 400 with the reason in msg. */
static int check_query(const stt_adapter_env_t *env, const stt_request_t *req,
                       stt_dg_params_t *p, char *msg, size_t cap)
{
    char q[STT_DG_MAX_QUERY_BYTES + 2];
    int n = req->header ? req->header(req->req, ":query", q, sizeof(q)) : -1;
    if (n >= (int)sizeof(q) - 1) { /* ":query" answers sizeof(q) when the arguments do not fit */
        snprintf(msg, cap, "The query string is longer than %d bytes.", STT_DG_MAX_QUERY_BYTES);
        return 400;
    }
    if (stt_dg_parse_query(n > 0 ? q : "", n > 0 ? (size_t)n : 0, 1, p, msg, cap) != 0)
        return 400;
    stt_models_t models;
    stt_models_list(env, &models);
    if (!stt_models_known(&models, p->model)) {
        char names[512];
        stt_models_join(&models, names, sizeof(names));
        int k = snprintf(msg, cap, "Invalid 'model' value of '%s'. This server serves: ", p->model);
        if (k > 0 && (size_t)k < cap)
            snprintf(msg + k, cap - (size_t)k, "%.*s.", (int)(cap - (size_t)k - 2), names);
        return 400;
    }
    return 0;
}

static int authorize(const stt_adapter_env_t *env, const stt_request_t *req, const char **why)
{
    int status = stt_api_key_check(env, req, why);
    if (status != 0) {
        stt_metrics_protocol_error(&env->rec->m, PROTOCOL, "unauthorized");
        return status;
    }
    static char msg[400]; /* loop thread only; read by the router before the next request */
    stt_dg_params_t p;
    status = check_query(env, req, &p, msg, sizeof(msg));
    if (status != 0) {
        stt_metrics_protocol_error(&env->rec->m, PROTOCOL, "bad_request");
        *why = msg;
    }
    return status;
}

static char *refusal_body(int status, const char *code, const char *message)
{
    char id[40];
    random_uuid(id);
    return stt_dg_build_http_error(stt_dg_err_code_for_status(status),
                                   status == 401 ? "Invalid credentials." : message, id);
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

static int adapter_open(const stt_adapter_env_t *env, stt_conn_t *c, const stt_request_t *req,
                        void **state)
{
    dg_t *d = stt_calloc(1, sizeof(*d));
    d->conn = c;
    d->env = env;
    d->id = stt_conn_id(c);
    char msg[400];
    if (check_query(env, req, &d->p, msg, sizeof(msg)) != 0) { /* authorize() let it through */
        free(d);
        return STT_EINVAL;
    }
    random_uuid(d->request_id);
    iso_now(d->created);
    stt_models_t models;
    stt_models_list(env, &models);
    snprintf(d->model_name, sizeof(d->model_name), "%s",
             d->p.model[0] ? d->p.model : models.n ? models.names[0] : "stt-server");
    name_uuid(d->model_name, d->model_uuid);
    d->sha = EVP_MD_CTX_new();
    if (d->sha && EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(d->sha);
        d->sha = NULL;
    }
    d->fmt = d->p.encoding == STT_DG_MULAW ? STT_PCM_MULAW
             : d->p.encoding == STT_DG_ALAW ? STT_PCM_ALAW
                                            : STT_PCM_S16LE;
    d->rate_hz = d->p.sample_rate_hz;
    d->wire_channels = d->p.channels;
    d->n_chan = d->p.multichannel ? d->p.channels : 1;

    stt_stream_params_t sp = stt_stream_default_params(env->rec);
    sp.log_id = d->id;
    sp.partials = d->p.interim_results ? sp.partials : 0;
    if (d->p.endpointing_ms > 0) {
        double s = d->p.endpointing_ms / 1000.0;
        sp.turn.post_speech_silence_s = s < MIN_ENDPOINT_S ? MIN_ENDPOINT_S : s;
    }
    char lang[STT_LANGUAGE_MAX];
    engine_language(d->p.language, lang, sizeof(lang));
    if (lang[0] && strcmp(lang, "multi") != 0 && sp.utt.language[0])
        snprintf(sp.utt.language, sizeof(sp.utt.language), "%s", lang);
    snprintf(sp.utt.prompt, sizeof(sp.utt.prompt), "%s", d->p.prompt);
    for (int i = 0; i < d->n_chan; i++) {
        chan_t *ch = &d->ch[i];
        ch->d = d;
        ch->index = i;
        ch->stream = stt_conn_open_stream(c, env->rec, &sp, on_event, ch);
        d->open_streams++;
    }
    stt_conn_set_max_message(c, (size_t)env->cfg->max_frame_bytes);
    *state = d;
    STT_INFO(d->id, "deepgram_connected",
             "[PRODUCTION] Deepgram client connected from %s: %s %d Hz x%d%s, interim %s, "
             "endpointing %d ms, utterance_end %d ms, vad_events %s, model %s, %zu term(s) "
             "(%zu prompt bytes)%s%s",
             req->ip,
             d->p.encoding_given ? (d->fmt == STT_PCM_S16LE ? "linear16"
                                    : d->fmt == STT_PCM_MULAW ? "mulaw" : "alaw")
                                 : "raw/wav",
             d->rate_hz, d->wire_channels, d->p.multichannel ? " multichannel" : "",
             d->p.interim_results ? "on" : "off", d->p.endpointing_ms, d->p.utterance_end_ms,
             d->p.vad_events ? "on" : "off", d->model_name, d->p.n_terms, strlen(d->p.prompt),
             d->p.n_ignored ? ", ignored: " : "", d->p.ignored);
    return 0;
}

static void stream_closed(void *data)
{
    chan_t *ch = data;
    dg_t *d = ch->d;
    free(ch->last_interim);
    ch->last_interim = NULL;
    if (--d->open_streams > 0)
        return;
    EVP_MD_CTX_free(d->sha);
    free(d);
}

static void adapter_closed(void *state)
{
    dg_t *d = state;
    STT_INFO(d->id, "deepgram_closed",
             "[PRODUCTION] Deepgram client disconnected (%.1f s, %.1f s of audio, %llu final(s), "
             "%llu interim(s))",
             stt_now_s() - stt_conn_opened_s(d->conn), (double)d->frames / d->rate_hz,
             (unsigned long long)d->finals_sent, (unsigned long long)d->interims_sent);
    stt_conn_t *c = d->conn;
    d->conn = NULL;
    int n = d->n_chan;
    for (int i = 0; i < n; i++) {
        stt_stream_t *s = d->ch[i].stream;
        d->ch[i].stream = NULL;
        if (s)
            stt_conn_close_stream(c, s, stream_closed, &d->ch[i]); /* the last may free d */
        else
            stream_closed(&d->ch[i]);
    }
}

const stt_adapter_t stt_adapter_deepgram = {
    .name = "deepgram",
    .transport = STT_TRANSPORT_WS,
    .counts_as_call = 1,
    .open = adapter_open,
    .authorize = authorize,
    .refusal_body = refusal_body,
    .on_message = on_message,
    .on_oversize = on_oversize,
    .on_shutdown = on_shutdown,
    .on_tick = on_tick,
    .on_closed = adapter_closed,
};
