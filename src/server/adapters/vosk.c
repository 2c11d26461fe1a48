/* The vosk-server WebSocket adapter (`/vosk` on the data port, or every path of --vosk_port),
 * for drop-in use with vosk clients. Codec: src/proto/vosk.c; protocol notes: docs/protocol.md.
 *
 * Client: an optional text {"config": {"sample_rate", "words", "max_alternatives", ...}}, binary
 * PCM16 mono chunks (8 kHz unless configured), {"eof" : 1} (flush, answer, close) and
 * {"reset" : 1} (flush the utterance so far and answer with its final).
 * Server: one reply per message, in order: an audio message gets the oldest final completed
 * since the last reply, else {"partial": "<the utterance's latest hypothesis>"}; eof and reset
 * get one final holding every final not yet sent once the flush is done ({"text": ""} when there
 * was nothing to transcribe). Word times are stream time (seconds since the call's first
 * sample), from the engine's word timings.
 *
 * Threads: the loop thread only. Ownership: the state owns its stream until the stream's closed
 * callback frees the state, and its queue of finals (JSON texts). */
#include "../adapter.h"
#include "../conn.h"

#include "stt/clock.h"
#include "stt/error.h"
#include "stt/log.h"
#include "stt/text.h"
#include "stt/vosk.h"

#include <stdlib.h>
#include <string.h>

#define MAX_QUEUED_FINALS 64 /* a client that sends no audio after many finals: oldest dropped */

typedef enum { FLUSH_NONE = 0, FLUSH_RESET, FLUSH_EOF } flush_t;

#define MAX_FLUSHES 16 /* (the message below says 16)  eof/reset waiting for their finals; more is a client flooding resets */

/* An eof or reset waiting for the finals of the utterances up to `upto`; `held` audio messages
 * that came after it are answered after it. */
typedef struct {
    flush_t kind;
    uint32_t upto;
    int waiting;
    size_t held;
} pending_flush_t;

/* A final not yet sent: its text and words (stream time), owned. */
typedef struct {
    uint32_t utt; /* the stream's utterance number */
    char *text;
    double confidence;
    stt_vosk_word_t *words; /* each word string owned */
    size_t n_words;
} final_t;

typedef struct {
    stt_conn_t *conn; /* NULL once the socket is gone */
    const stt_adapter_env_t *env;
    stt_stream_t *stream;
    uint64_t id;
    int rate_hz;
    int words;
    int max_alternatives;
    uint8_t carry[1]; /* an odd trailing byte of PCM16, joined to the next message */
    int has_carry;
    char *partial;  /* latest partial hypothesis of the current utterance ("" when none) */
    final_t finals[MAX_QUEUED_FINALS]; /* finals not yet sent, oldest first */
    size_t n_finals;
    uint32_t cur_utt; /* the last utterance that started recording */
    pending_flush_t flushes[MAX_FLUSHES]; /* oldest first; answered strictly in order */
    size_t n_flushes;
    int eof; /* eof received: nothing more is read */
} vosk_t;

/* ---- replies ---- */

static void send_reply(vosk_t *v, char *json)
{
    if (v->conn)
        stt_conn_send_json(v->conn, json);
    else
        free(json);
}

static void final_dispose(final_t *f)
{
    for (size_t i = 0; i < f->n_words; i++)
        free((char *)f->words[i].word);
    free(f->words);
    free(f->text);
    memset(f, 0, sizeof(*f));
}

/* Takes the first n queued finals out of the queue into one: texts joined by a space, words
 * concatenated, the lowest confidence. */
static final_t take_finals(vosk_t *v, size_t n)
{
    final_t out = {0};
    size_t words = 0, chars = 1;
    for (size_t i = 0; i < n; i++) {
        words += v->finals[i].n_words;
        chars += strlen(v->finals[i].text) + 1;
    }
    out.text = stt_malloc(chars);
    out.text[0] = '\0';
    out.words = stt_calloc(words ? words : 1, sizeof(stt_vosk_word_t));
    out.confidence = n ? 1.0 : -1.0;
    for (size_t i = 0; i < n; i++) {
        final_t *f = &v->finals[i];
        if (f->text[0]) {
            if (out.text[0])
                strcat(out.text, " ");
            strcat(out.text, f->text);
        }
        memcpy(out.words + out.n_words, f->words, f->n_words * sizeof(stt_vosk_word_t));
        out.n_words += f->n_words;
        if (f->confidence < out.confidence)
            out.confidence = f->confidence;
        free(f->words); /* the word strings moved */
        free(f->text);
    }
    memmove(v->finals, v->finals + n, (v->n_finals - n) * sizeof(final_t));
    v->n_finals -= n;
    return out;
}

static char *final_json(const vosk_t *v, const final_t *f)
{
    /* With word times, the text is the words joined, as vosk's always is. */
    stt_vosk_hyp_t hyp = {.text = v->words && f->n_words ? NULL : f->text,
                          .confidence = f->confidence,
                          .words = f->words,
                          .n_words = f->n_words};
    stt_vosk_final_opts_t opts = {.words = v->words, .max_alternatives = v->max_alternatives};
    return stt_vosk_build_final(&hyp, 1, &opts);
}

static void send_finals(vosk_t *v, size_t n)
{
    final_t f = take_finals(v, n);
    send_reply(v, final_json(v, &f));
    final_dispose(&f);
}

/* The reply to one audio message: the oldest final not yet sent, else the current partial. */
static void reply_audio(vosk_t *v)
{
    if (v->n_finals > 0)
        send_finals(v, 1);
    else
        send_reply(v, stt_vosk_build_partial(v->partial ? v->partial : ""));
}

/* Answers the flushes at the head of the queue whose finals are all back, in order: each gets
 * one final holding every final not yet sent of the utterances it covers (an empty final when
 * there is none, as vosk's FinalResult), then the audio messages that came after it get their
 * replies; eof then closes. */
static void answer_flushes(vosk_t *v)
{
    while (v->n_flushes > 0 && v->flushes[0].waiting <= 0) {
        pending_flush_t f = v->flushes[0];
        memmove(v->flushes, v->flushes + 1, (v->n_flushes - 1) * sizeof(f));
        v->n_flushes--;
        size_t n = 0; /* the finals of the utterances it covers (later ones stay queued) */
        while (n < v->n_finals && v->finals[n].utt <= f.upto)
            n++;
        send_finals(v, n);
        if (f.kind == FLUSH_EOF) {
            if (v->conn)
                stt_conn_close(v->conn, STT_CLOSE_NORMAL, "eof");
            return;
        }
        for (; f.held > 0; f.held--) /* replies stay in message order */
            reply_audio(v);
    }
}

/* A final (or its failure) of utterance utt came back: every flush that covers it waits for
 * one final less. */
static void flush_progress(vosk_t *v, uint32_t utt)
{
    for (size_t i = 0; i < v->n_flushes; i++)
        if (utt <= v->flushes[i].upto)
            v->flushes[i].waiting--;
    answer_flushes(v);
}

static void queue_final(vosk_t *v, const stt_stream_event_t *ev)
{
    if (v->n_finals == MAX_QUEUED_FINALS) {
        final_t f = take_finals(v, 1);
        final_dispose(&f);
        STT_WARN(v->id, "vosk_final_dropped", "client sends no audio: oldest unsent final dropped");
    }
    const stt_result_t *r = ev->result;
    final_t *f = &v->finals[v->n_finals++];
    f->utt = ev->utt;
    f->text = stt_text_trimmed(r->text);
    f->confidence = r->confidence;
    f->n_words = r->n_words;
    f->words = stt_calloc(r->n_words ? r->n_words : 1, sizeof(stt_vosk_word_t));
    double offset_s = (double)ev->start_sample / 16000.0;
    for (size_t i = 0; i < r->n_words; i++) {
        f->words[i].word = stt_strdup(r->words[i].word);
        f->words[i].start_s = offset_s + r->words[i].start_s;
        f->words[i].end_s = offset_s + r->words[i].end_s;
        f->words[i].conf = r->words[i].confidence;
    }
}

static void on_event(void *data, const stt_stream_event_t *ev)
{
    vosk_t *v = data;
    switch (ev->kind) {
    case STT_SEV_RECORDING_START:
        v->cur_utt = ev->utt;
        free(v->partial);
        v->partial = NULL;
        return;
    case STT_SEV_PARTIAL:
        free(v->partial);
        v->partial = stt_text_trimmed(ev->result->text);
        stt_stream_partial_delivered(v->stream, ev->utt, ev->elapsed_s);
        return;
    case STT_SEV_FINAL:
        free(v->partial);
        v->partial = NULL;
        queue_final(v, ev);
        flush_progress(v, ev->utt);
        return;
    case STT_SEV_FINAL_FAILED:
        STT_WARN(v->id, "vosk_final_failed", "utterance %u: %s", ev->utt, ev->message);
        flush_progress(v, ev->utt);
        return;
    case STT_SEV_AUDIO_DROPPED:
    case STT_SEV_ENGINE_STATE:
        /* vosk clients know no such messages; the log and metrics carry them. */
        return;
    default:
        return;
    }
}

/* ---- input ---- */

static int refuse(vosk_t *v, stt_vosk_err_t e, const char *msg)
{
    STT_WARN(v->id, "vosk_bad_message", "%s: %s", stt_vosk_err_name(e), msg);
    v->env->rec->m.recorder_errors++;
    send_reply(v, stt_vosk_build_error(stt_vosk_err_name(e), msg));
    stt_conn_close_code(v->conn, stt_vosk_err_close_code(e), msg);
    return -1;
}

static int start_flush(vosk_t *v, flush_t what)
{
    if (v->n_flushes == MAX_FLUSHES)
        return -1;
    /* Ends the utterance recording now; the flush then waits for the finals of every utterance
     * up to it (audio that keeps coming starts new ones, answered later). */
    stt_stream_finalize(v->stream, 1);
    pending_flush_t *f = &v->flushes[v->n_flushes++];
    f->kind = what;
    f->upto = v->cur_utt;
    f->waiting = stt_stream_finals_pending(v->stream);
    f->held = 0;
    if (what == FLUSH_EOF)
        v->eof = 1;
    answer_flushes(v);
    return 0;
}

static int on_text(vosk_t *v, const uint8_t *buf, size_t len)
{
    stt_vosk_msg_t msg;
    char err[256];
    stt_vosk_err_t e = stt_vosk_parse((const char *)buf, len, 0, &msg, err, sizeof(err));
    if (e != STT_VOSK_ERR_OK)
        return refuse(v, e, err);
    if (msg.kind == STT_VOSK_MSG_CONFIG) {
        const stt_vosk_config_t *c = &msg.config;
        if (c->present & STT_VOSK_HAS_SAMPLE_RATE)
            v->rate_hz = c->sample_rate_hz;
        if (c->present & STT_VOSK_HAS_WORDS)
            v->words = c->words;
        if (c->present & STT_VOSK_HAS_MAX_ALTERNATIVES)
            v->max_alternatives = c->max_alternatives;
        STT_INFO(v->id, "vosk_config", "sample_rate %d, words %d, max_alternatives %d",
                 v->rate_hz, v->words, v->max_alternatives);
    } else if (v->eof) {
        /* after eof nothing more is read */
    } else if (start_flush(v, msg.kind == STT_VOSK_MSG_EOF ? FLUSH_EOF : FLUSH_RESET) != 0) {
        const char *why = "more than 16 eof/reset messages waiting for their finals";
        STT_WARN(v->id, "vosk_bad_message", "too_many_flushes: %s", why);
        send_reply(v, stt_vosk_build_error("too_many_flushes", why));
        stt_conn_close(v->conn, STT_CLOSE_POLICY, why);
    }
    stt_vosk_msg_dispose(&msg);
    return v->conn && stt_conn_closing(v->conn) ? -1 : 0;
}

static int on_message(void *state, int binary, const uint8_t *buf, size_t len)
{
    vosk_t *v = state;
    if (!binary)
        return on_text(v, buf, len);
    if (v->eof)
        return 0;
    stt_metrics_t *m = &v->env->rec->m;
    m->frames_total++;
    m->last_activity_s = stt_now_s();
    stt_conn_touch(v->conn);
    uint8_t joined[2];
    if (v->has_carry && len > 0) { /* the odd byte of the previous message */
        joined[0] = v->carry[0];
        joined[1] = buf[0];
        v->has_carry = 0;
        stt_stream_feed(v->stream, STT_PCM_S16LE, v->rate_hz, joined, 1);
        buf++;
        len--;
    }
    size_t n = len / 2;
    if (len % 2) {
        v->carry[0] = buf[len - 1];
        v->has_carry = 1;
    }
    m->audio_seconds += (double)n / v->rate_hz;
    if (stt_stream_feed(v->stream, STT_PCM_S16LE, v->rate_hz, buf, n) != 0)
        return refuse(v, STT_VOSK_ERR_RATERANGE, "the resampler refused the sample rate");
    if (v->n_flushes > 0)
        v->flushes[v->n_flushes - 1].held++; /* the flushes' replies go first */
    else if (v->conn && !stt_conn_closing(v->conn))
        reply_audio(v);
    return 0;
}

/* ---- lifecycle ---- */

static int adapter_open(const stt_adapter_env_t *env, stt_conn_t *c, const stt_request_t *req,
                        void **state)
{
    vosk_t *v = stt_calloc(1, sizeof(*v));
    v->conn = c;
    v->env = env;
    v->id = stt_conn_id(c);
    v->rate_hz = STT_VOSK_DEFAULT_RATE_HZ;
    v->words = STT_VOSK_DEFAULT_WORDS;
    v->max_alternatives = STT_VOSK_DEFAULT_MAX_ALTERNATIVES;
    /* Binary audio messages up to the frame cap; text messages are capped by the codec. */
    stt_conn_set_max_message(c, (size_t)env->cfg->max_frame_bytes);
    stt_stream_params_t sp = stt_stream_default_params(env->rec);
    sp.log_id = v->id;
    v->stream = stt_conn_open_stream(c, env->rec, &sp, on_event, v); /* its first: never NULL */
    *state = v;
    STT_INFO(v->id, "vosk_connected", "[PRODUCTION] vosk client connected from %s (%s)", req->ip,
             req->path);
    return 0;
}

static void stream_closed(void *data)
{
    vosk_t *v = data;
    for (size_t i = 0; i < v->n_finals; i++)
        final_dispose(&v->finals[i]);
    free(v->partial);
    free(v);
}

static void adapter_closed(void *state)
{
    vosk_t *v = state;
    STT_INFO(v->id, "vosk_closed", "[PRODUCTION] vosk client disconnected (%.1f s)",
             stt_now_s() - stt_conn_opened_s(v->conn));
    stt_conn_t *c = v->conn;
    stt_stream_t *s = v->stream;
    v->conn = NULL;
    v->stream = NULL;
    stt_conn_close_stream(c, s, stream_closed, v); /* may free v at once */
}

const stt_adapter_t stt_adapter_vosk = {
    .name = "vosk",
    .transport = STT_TRANSPORT_WS,
    .counts_as_call = 1,
    .open = adapter_open,
    .on_message = on_message,
    .on_closed = adapter_closed,
};
