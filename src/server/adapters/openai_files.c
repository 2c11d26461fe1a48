/* The OpenAI-compatible file API on the data port (HTTP transport): POST
 * /v1/audio/transcriptions, POST /v1/audio/translations (multilingual Whisper models only),
 * GET /v1/models and GET /v1/models/{id}. Codec: src/proto/openai_files.c (fields, response
 * formats, SSE, errors); multipart: src/proto/multipart.c; decoding: src/audio/decode.c.
 * Protocol notes: docs/protocol.md, "OpenAI-compatible file API".
 *
 * A request's life:
 *   open       the method and path are checked, then, for an upload, Content-Length against
 *              --upload_max_bytes (413 at once), the multipart boundary of Content-Type (400)
 *              and --max_uploads (429 with Retry-After); the upload holds a slot from here.
 *   body       streamed through the multipart parser (a body that stalls for --idle_timeout
 *              answers 408): the `file` part goes to an unlinked
 *              temp file in $TMPDIR (never the body in memory), each other field (capped at
 *              STT_OAF_FIELD_MAX_BYTES) through stt_oaf_field as it ends. A bad field answers
 *              400 at once; a body growing past --upload_max_bytes answers 413 at once.
 *   body end   missing file, truncated multipart, field combinations, unknown model, a file
 *              the decoder cannot read (400, "Invalid file format"), a duration over
 *              --upload_max_duration (413). Then a stream in the batch class (params.batch),
 *              finals only, and with stream=true the SSE head at once.
 *   feeding    decoded audio goes into the stream in slices of 50 ms of the file's audio, from
 *              the loop's 50 ms tick (adapter on_pace) and at body end, while the stream's
 *              backlog (audio not yet through the engine) is under BACKLOG_MAX_S and for at
 *              most TICK_BUDGET_S of loop time per tick: the engine sets the pace, memory stays
 *              bounded (a few seconds of audio) and the loop never stalls on one upload.
 *   end        the decoder is exhausted: the utterance is ended (finalize, end_input); when
 *              the stream is idle every final is in, and the answer goes out in the format
 *              asked (SSE: transcript.text.done after one transcript.text.delta per final).
 *
 * Decoding on the loop: stt_decoder_read of one 50 ms slice of 44.1 kHz stereo costs on average
 * 16-18 us (WAV), 70-74 us (FLAC), 67-77 us (MP3 128 kb/s), 106-116 us (Ogg Vorbis), measured
 * 2026-12-05 over 24.7 s of librivox on the shared 2-core machine (single slices up to a few ms
 * were the scheduler's preemptions under load 8); opening costs 0.07-0.5 ms. Well under a
 * millisecond, and each tick stops after TICK_BUDGET_S, so decoding stays on the loop thread
 * instead of a thread of its own with the hand-over that would need.
 *
 * Threads: the loop thread only. Ownership: the state owns the multipart parser, the temp
 * file's descriptor, the decoder and the collected segments; it outlives the connection while
 * its stream closes (stream_closed frees it once both are gone). */
#include "../adapter.h"
#include "../conn.h"
#include "api_key.h"
#include "models.h"

#include "stt/clock.h"
#include "stt/decode.h"
#include "stt/error.h"
#include "stt/log.h"
#include "stt/multipart.h"
#include "stt/openai_files.h"
#include "stt/text.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The silence that ends a segment of an uploaded file (at least; a longer live default stays). */
#define FILE_SEGMENT_SILENCE_S 1.0

#define PROTOCOL "openai_files"
#define BACKLOG_MAX_S 4.0    /* audio queued for the engine before feeding pauses */
#define TICK_BUDGET_S 0.004  /* loop time one upload may take per tick */
#define SLICE_S 0.05         /* decoded per read */
#define FIELD_NAME_MAX 64

typedef enum { KIND_TRANSCRIBE, KIND_TRANSLATE, KIND_MODELS } kind_t;

typedef struct {
    char *text;
    double start_s, end_s, avg_logprob, no_speech_prob;
} seg_t;

typedef struct {
    char *word;
    double start_s, end_s;
} word_t;

typedef struct {
    stt_conn_t *conn; /* NULL once the socket is gone */
    const stt_adapter_env_t *env;
    uint64_t id;
    kind_t kind;
    char path[256];
    int holds_slot;   /* counted in uploads_active */
    int answered;     /* a response (head) went out, or the request is over */
    int counted;      /* its result is counted */
    /* body */
    uint64_t content_length, body_bytes;
    stt_multipart_t *mp;
    int in_feed; /* inside stt_multipart_feed: the parser must outlive its callbacks */
    int in_file, file_seen;
    int fd;
    uint64_t file_bytes;
    char field[FIELD_NAME_MAX];
    char *field_buf; /* STT_OAF_FIELD_MAX_BYTES + 1 */
    size_t field_len;
    stt_oaf_request_t req;
    /* transcription */
    stt_decoder_t *dec;
    int rate_hz;
    int16_t *slice;
    size_t slice_frames;
    uint64_t decoded, max_samples;
    double duration_s;
    stt_stream_t *stream;
    int stream_closing; /* stt_conn_close_stream called, closed_cb not yet run */
    int input_done;
    int failed;       /* a final failed: the answer is an error */
    char fail_msg[200];
    seg_t *segs;
    size_t n_segs, cap_segs;
    word_t *words;
    size_t n_words, cap_words;
    char language[STT_OAF_LANGUAGE_MAX];
    double started_s;
} oaf_t;

static void count(oaf_t *o, stt_upload_result_t r)
{
    if (o->counted || o->kind == KIND_MODELS)
        return;
    o->counted = 1;
    o->env->rec->m.uploads[r]++;
}

static void release_slot(oaf_t *o)
{
    if (o->holds_slot) {
        o->holds_slot = 0;
        o->env->rec->m.uploads_active--;
    }
}

/* Everything of the upload but the state and the stream: parser, file, decoder, buffers. */
static void release_upload(oaf_t *o)
{
    if (!o->in_feed) { /* else on_message destroys it once the feed returned */
        stt_multipart_destroy(o->mp);
        o->mp = NULL;
    }
    stt_decoder_close(o->dec);
    o->dec = NULL;
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    free(o->field_buf);
    o->field_buf = NULL;
    free(o->slice);
    o->slice = NULL;
    release_slot(o);
}

static void free_state(oaf_t *o)
{
    release_upload(o);
    for (size_t i = 0; i < o->n_segs; i++)
        free(o->segs[i].text);
    for (size_t i = 0; i < o->n_words; i++)
        free(o->words[i].word);
    free(o->segs);
    free(o->words);
    free(o);
}

static void stream_closed(void *data)
{
    oaf_t *o = data;
    o->stream_closing = 0;
    if (!o->conn)
        free_state(o);
}

/* The stream is done with (the answer went out, or it failed): closed now, not at the
 * socket's close, so its jobs and audio go at once. */
static void close_stream(oaf_t *o)
{
    stt_stream_t *s = o->stream;
    if (!s || !o->conn)
        return;
    o->stream = NULL;
    o->stream_closing = 1;
    stt_conn_close_stream(o->conn, s, stream_closed, o); /* may run stream_closed at once */
}

/* ---- answers ---- */

static void respond_error(oaf_t *o, const stt_oaf_error_t *e, const char *extra,
                          stt_upload_result_t r, const char *err_name)
{
    if (o->answered || !o->conn)
        return;
    o->answered = 1;
    STT_WARN(o->id, "openai_files_error", "%d %s: %s", e->status, err_name, e->message);
    if (e->status < 500)
        stt_metrics_protocol_error(&o->env->rec->m, PROTOCOL, err_name);
    char *body = stt_oaf_build_error(e);
    size_t len = strlen(body);
    if (stt_conn_http_head(o->conn, e->status, "application/json", (int64_t)len, extra) == 0 &&
        stt_conn_send(o->conn, 1, body, len) == 0)
        stt_conn_close(o->conn, STT_CLOSE_NORMAL, NULL);
    free(body);
    count(o, r);
    close_stream(o);
    release_upload(o);
}

static void fail(oaf_t *o, int status, const char *param, const char *code,
                 stt_upload_result_t r, const char *err_name, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void fail(oaf_t *o, int status, const char *param, const char *code,
                 stt_upload_result_t r, const char *err_name, const char *fmt, ...)
{
    stt_oaf_error_t e;
    stt_oaf_error_set(&e, status, param, code, "%s", "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof(e.message), fmt, ap);
    va_end(ap);
    if (status >= 500)
        e.type = "server_error";
    respond_error(o, &e, NULL, r, err_name);
}

static void respond_json(oaf_t *o, int status, char *json)
{
    o->answered = 1;
    stt_conn_http_respond(o->conn, status, "application/json", json, strlen(json));
    free(json);
}

/* ---- GET /v1/models ---- */

static cJSON *model_object(const char *name)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", 0); /* not known: the server loads a file */
    cJSON_AddStringToObject(m, "owned_by", "stt-server");
    return m;
}

static void answer_models(oaf_t *o)
{
    stt_models_t ms;
    stt_models_list(o->env, &ms);
    const char *id = o->path + strlen("/v1/models");
    if (*id == '/')
        id++;
    if (*id) { /* GET /v1/models/{id} */
        for (size_t i = 0; i < ms.n; i++)
            if (strcmp(ms.names[i], id) == 0) {
                cJSON *m = model_object(id);
                respond_json(o, 200, cJSON_PrintUnformatted(m));
                cJSON_Delete(m);
                return;
            }
        fail(o, 404, "model", "model_not_found", STT_UPLOAD_BAD_REQUEST, "model_not_found",
             "The model '%.80s' does not exist", id);
        return;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    for (size_t i = 0; i < ms.n; i++)
        cJSON_AddItemToArray(data, model_object(ms.names[i]));
    respond_json(o, 200, cJSON_PrintUnformatted(root));
    cJSON_Delete(root);
}

/* ---- the transcription's answer ---- */

static void collect_transcript(oaf_t *o, stt_oaf_transcript_t *t, stt_oaf_segment_t **segs,
                               stt_oaf_word_t **words)
{
    *segs = stt_calloc(o->n_segs + 1, sizeof(**segs));
    *words = stt_calloc(o->n_words + 1, sizeof(**words));
    for (size_t i = 0; i < o->n_segs; i++)
        (*segs)[i] = (stt_oaf_segment_t){o->segs[i].text, o->segs[i].start_s, o->segs[i].end_s,
                                         o->segs[i].avg_logprob, o->segs[i].no_speech_prob};
    for (size_t i = 0; i < o->n_words; i++)
        (*words)[i] = (stt_oaf_word_t){o->words[i].word, o->words[i].start_s, o->words[i].end_s};
    *t = (stt_oaf_transcript_t){.task = o->kind == KIND_TRANSLATE ? "translate" : "transcribe",
                                .language = o->language,
                                .duration_s = o->rate_hz ? (double)o->decoded / o->rate_hz : 0,
                                .segments = *segs,
                                .n_segments = o->n_segs,
                                .words = *words,
                                .n_words = o->n_words,
                                .want_segments = o->req.want_segments,
                                .want_words = o->req.want_words};
}

static void finish(oaf_t *o)
{
    if (!o->conn || stt_conn_closing(o->conn))
        return;
    double took = stt_now_s() - o->started_s;
    double audio_s = o->rate_hz ? (double)o->decoded / o->rate_hz : 0;
    if (o->failed) {
        stt_oaf_error_t e;
        stt_oaf_error_set(&e, 500, NULL, "transcription_failed", "%s", o->fail_msg);
        e.type = "server_error";
        if (o->req.stream) {
            size_t len;
            char *ev = stt_oaf_sse_error(&e, &len);
            stt_conn_send(o->conn, 1, ev, len);
            free(ev);
            stt_conn_close(o->conn, STT_CLOSE_NORMAL, NULL);
            count(o, STT_UPLOAD_FAILED);
        } else {
            respond_error(o, &e, NULL, STT_UPLOAD_FAILED, "transcription_failed");
        }
        close_stream(o);
        release_upload(o);
        return;
    }
    stt_oaf_transcript_t t;
    stt_oaf_segment_t *segs;
    stt_oaf_word_t *words;
    collect_transcript(o, &t, &segs, &words);
    if (o->req.stream) {
        char *text = stt_oaf_join_text(&t);
        size_t len;
        char *ev = stt_oaf_sse_done(text, &len);
        stt_conn_send(o->conn, 1, ev, len);
        free(ev);
        free(text);
        stt_conn_close(o->conn, STT_CLOSE_NORMAL, NULL);
    } else {
        size_t len;
        char *body = stt_oaf_build_response(&t, o->req.format, &len);
        o->answered = 1;
        stt_conn_http_respond(o->conn, 200, stt_oaf_format_content_type(o->req.format), body,
                              len);
        free(body);
    }
    free(segs);
    free(words);
    count(o, STT_UPLOAD_OK);
    STT_INFO(o->id, "openai_files_done",
             "%s: %.1f s of audio in %.1f s (%.1fx), %zu segment(s), %zu word(s), %s",
             t.task, audio_s, took, took > 0 ? audio_s / took : 0, o->n_segs, o->n_words,
             o->req.stream ? "stream" : stt_oaf_format_name(o->req.format));
    close_stream(o);
    release_upload(o);
}

static void maybe_finish(oaf_t *o)
{
    if (o->input_done && o->stream && stt_stream_idle(o->stream) &&
        stt_stream_finals_pending(o->stream) == 0)
        finish(o);
}

/* ---- stream events ---- */

static void add_final(oaf_t *o, const stt_stream_event_t *ev)
{
    const stt_result_t *r = ev->result;
    char *text = stt_text_trimmed(r->text);
    if (!text[0]) { /* noise the VAD took for speech: nothing said */
        free(text);
        return;
    }
    double base = (double)ev->start_sample / 16000.0;
    double start = base, end = (double)ev->end_sample / 16000.0;
    if (r->n_words > 0) {
        start = base + r->words[0].start_s;
        end = base + r->words[r->n_words - 1].end_s;
    }
    /* Monotonic across segments, whatever an engine's word times say. */
    if (o->n_segs > 0 && start < o->segs[o->n_segs - 1].end_s)
        start = o->segs[o->n_segs - 1].end_s;
    if (end < start)
        end = start;
    if (o->n_segs == o->cap_segs) {
        o->cap_segs = o->cap_segs ? o->cap_segs * 2 : 16;
        o->segs = stt_realloc(o->segs, o->cap_segs * sizeof(*o->segs));
    }
    /* whisper's no-speech probability: of the first segment (whisper computes it once per
     * 30 s window, from the window's first token). */
    double nsp = 0;
    const cJSON *seg0 = r->segments ? cJSON_GetArrayItem(r->segments, 0) : NULL;
    const cJSON *p = seg0 ? cJSON_GetObjectItemCaseSensitive(seg0, "no_speech_prob") : NULL;
    if (cJSON_IsNumber(p) && p->valuedouble >= 0 && p->valuedouble <= 1)
        nsp = p->valuedouble;
    o->segs[o->n_segs++] = (seg_t){text, start, end,
                                   r->confidence > 0 ? log(r->confidence) : 0.0, nsp};
    for (size_t i = 0; i < r->n_words; i++) {
        if (o->n_words == o->cap_words) {
            o->cap_words = o->cap_words ? o->cap_words * 2 : 64;
            o->words = stt_realloc(o->words, o->cap_words * sizeof(*o->words));
        }
        double ws = base + r->words[i].start_s, we = base + r->words[i].end_s;
        if (ws < start)
            ws = start;
        if (we > end)
            we = end;
        if (we < ws)
            we = ws;
        o->words[o->n_words++] = (word_t){stt_strdup(r->words[i].word), ws, we};
    }
    if (!o->language[0] && r->language[0])
        snprintf(o->language, sizeof(o->language), "%s", r->language);
    if (o->req.stream && o->conn && !stt_conn_closing(o->conn)) {
        /* The deltas concatenate to the done event's text. */
        size_t l = strlen(text);
        char *d = stt_malloc(l + 2);
        snprintf(d, l + 2, "%s%s", o->n_segs > 1 ? " " : "", text);
        size_t len;
        char *evs = stt_oaf_sse_delta(d, &len);
        stt_conn_send(o->conn, 1, evs, len);
        free(evs);
        free(d);
    }
}

static void on_event(void *data, const stt_stream_event_t *ev)
{
    oaf_t *o = data;
    switch (ev->kind) {
    case STT_SEV_FINAL:
        add_final(o, ev);
        break;
    case STT_SEV_FINAL_FAILED:
        if (!o->failed) {
            o->failed = 1;
            snprintf(o->fail_msg, sizeof(o->fail_msg), "transcription failed at %.1f s: %s",
                     (double)ev->start_sample / 16000.0,
                     ev->message ? ev->message : "engine error");
        }
        break;
    case STT_SEV_AUDIO_DROPPED:
        if (ev->dropped_speech_chunks && !o->failed) {
            o->failed = 1;
            snprintf(o->fail_msg, sizeof(o->fail_msg),
                     "transcription incomplete: %zu chunk(s) of speech dropped (%s)",
                     ev->dropped_speech_chunks, ev->message ? ev->message : "overload");
        }
        break;
    default:
        break;
    }
    /* No maybe_finish here: a stream is not closed from inside its own callback; the next
     * tick (50 ms) answers. */
}

/* ---- feeding ---- */

static void end_input(oaf_t *o)
{
    if (o->input_done)
        return;
    o->input_done = 1;
    stt_stream_finalize(o->stream, 1);
    stt_stream_end_input(o->stream, 0);
    stt_decoder_close(o->dec);
    o->dec = NULL;
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
}

static void feed_some(oaf_t *o)
{
    if (!o->stream || o->input_done || !o->conn || stt_conn_closing(o->conn))
        return;
    double t0 = stt_now_s();
    size_t backlog_max = (size_t)(BACKLOG_MAX_S * 16000);
    stt_metrics_t *m = &o->env->rec->m;
    while (!o->input_done && o->stream) {
        if (stt_stream_backlog_samples(o->stream) >= backlog_max)
            break;
        if (stt_now_s() - t0 > TICK_BUDGET_S)
            break;
        size_t want = o->slice_frames;
        if (o->decoded + want > o->max_samples)
            want = (size_t)(o->max_samples - o->decoded);
        long n = want ? stt_decoder_read(o->dec, o->slice, want) : 0;
        if (n < 0) {
            char why[200];
            snprintf(why, sizeof(why), "%s", stt_decoder_error(o->dec));
            if (o->req.stream) { /* the head went out: an error event, then the end */
                o->failed = 1;
                snprintf(o->fail_msg, sizeof(o->fail_msg),
                         "the audio file is corrupt at %.1f s: %.120s",
                         (double)o->decoded / o->rate_hz, why);
                end_input(o);
                break;
            }
            fail(o, 400, "file", "invalid_file", STT_UPLOAD_UNSUPPORTED, "decode_error",
                 "The audio file could not be decoded at %.1f s: %.120s",
                 (double)o->decoded / o->rate_hz, why);
            return;
        }
        if (n == 0) {
            end_input(o);
            break;
        }
        o->decoded += (uint64_t)n;
        m->upload_audio_seconds += (double)n / o->rate_hz;
        stt_stream_feed(o->stream, STT_PCM_S16LE, o->rate_hz, o->slice, (size_t)n);
    }
    if (o->stream)
        maybe_finish(o);
}

static void on_pace(void *state, double now)
{
    oaf_t *o = state;
    /* A client that stopped sending mid-body would hold its upload slot for ever (upload
     * connections are not calls: the housekeeping's idle timeout skips them). */
    double idle_max = o->env->cfg->idle_timeout;
    if (o->mp && !o->answered && idle_max > 0 && stt_conn_idle_s(o->conn, now) > idle_max) {
        fail(o, 408, NULL, "upload_timeout", STT_UPLOAD_BAD_REQUEST, "upload_stalled",
             "The upload stalled: no data for %.0f seconds (%llu of %llu bytes received)",
             idle_max, (unsigned long long)o->body_bytes,
             (unsigned long long)o->content_length);
        return;
    }
    if (o->stream && !o->input_done)
        feed_some(o);
    else if (o->stream)
        maybe_finish(o);
}

/* ---- the body ---- */

static int open_temp(oaf_t *o)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !dir[0])
        dir = "/tmp";
#ifdef O_TMPFILE
    o->fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (o->fd >= 0)
        return 0;
#endif
    char path[512];
    snprintf(path, sizeof(path), "%s/stt-upload-XXXXXX", dir);
    o->fd = mkstemp(path);
    if (o->fd < 0)
        return -1;
    unlink(path); /* gone from the directory now: freed with the descriptor */
    return 0;
}

static int part_begin(void *user, const char *name, const char *filename,
                      const char *content_type)
{
    oaf_t *o = user;
    if (strcmp(name, "file") == 0) {
        if (o->file_seen) {
            fail(o, 400, "file", "invalid_value", STT_UPLOAD_BAD_REQUEST, "two_files",
                 "Only one 'file' may be uploaded per request");
            return 1;
        }
        o->file_seen = 1;
        o->in_file = 1;
        if (open_temp(o) != 0) {
            fail(o, 500, NULL, "storage", STT_UPLOAD_FAILED, "temp_file",
                 "The server could not store the upload (%s)", strerror(errno));
            return 1;
        }
        STT_INFO(o->id, "openai_files_file", "file part \"%.80s\" (%.60s)", filename,
                 content_type[0] ? content_type : "no Content-Type");
        return 0;
    }
    o->in_file = 0;
    snprintf(o->field, sizeof(o->field), "%s", name);
    o->field_len = 0;
    return 0;
}

static int part_data(void *user, const uint8_t *p, size_t n)
{
    oaf_t *o = user;
    if (o->in_file) {
        while (n > 0) {
            ssize_t w = write(o->fd, p, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                fail(o, 500, NULL, "storage", STT_UPLOAD_FAILED, "temp_file",
                     "The server could not store the upload (%s)",
                     w < 0 ? strerror(errno) : "short write");
                return 1;
            }
            p += w;
            n -= (size_t)w;
            o->file_bytes += (uint64_t)w;
        }
        return 0;
    }
    /* A field: kept up to one byte past the cap, so the codec sees it is too long. */
    size_t room = STT_OAF_FIELD_MAX_BYTES + 1 - o->field_len;
    size_t k = n < room ? n : room;
    memcpy(o->field_buf + o->field_len, p, k);
    o->field_len += k;
    return 0;
}

static int part_end(void *user)
{
    oaf_t *o = user;
    if (o->in_file) {
        o->in_file = 0;
        return 0;
    }
    stt_oaf_error_t e;
    if (stt_oaf_field(&o->req, o->field, o->field_buf, o->field_len, &e) != 0) {
        respond_error(o, &e, NULL, STT_UPLOAD_BAD_REQUEST, "bad_field");
        return 1;
    }
    return 0;
}

static void fail_too_big(oaf_t *o, uint64_t bytes)
{
    fail(o, 413, NULL, "request_too_large", STT_UPLOAD_TOO_LARGE, "too_large",
         "Maximum content size limit (%lld) exceeded (%llu bytes read)",
         (long long)o->env->cfg->upload_max_bytes, (unsigned long long)bytes);
}

static int on_message(void *state, int binary, const uint8_t *buf, size_t len)
{
    oaf_t *o = state;
    if (o->answered || !o->mp)
        return 0; /* answered already: the rest is discarded */
    o->body_bytes += len;
    if (o->body_bytes > (uint64_t)o->env->cfg->upload_max_bytes) {
        fail_too_big(o, o->body_bytes);
        return -1;
    }
    o->in_feed = 1;
    int rc = stt_multipart_feed(o->mp, buf, len);
    o->in_feed = 0;
    if (o->answered) { /* a callback answered (a bad field): the parser goes now */
        stt_multipart_destroy(o->mp);
        o->mp = NULL;
        return -1;
    }
    if (rc != 0)
        fail(o, 400, NULL, "invalid_multipart", STT_UPLOAD_BAD_REQUEST, "bad_multipart",
             "Could not parse multipart form: %s", stt_multipart_error(rc));
    return o->answered ? -1 : 0;
}

/* Opens the decoder on the spooled file; 0, or -1 after answering. */
static int open_decoder(oaf_t *o)
{
    char err[256] = "";
    int rc;
    if (o->req.raw != STT_OAF_RAW_NONE) {
        static const stt_pcm_format_t fmt[] = {STT_PCM_S16LE, STT_PCM_S16LE, STT_PCM_F32LE,
                                               STT_PCM_MULAW, STT_PCM_ALAW};
        rc = stt_decoder_open_raw(o->fd, fmt[o->req.raw], o->req.sample_rate_hz,
                                  o->req.channels, &o->dec, err, sizeof(err));
    } else {
        rc = stt_decoder_open_fd(o->fd, &o->dec, err, sizeof(err));
    }
    if (rc != 0) {
        if (rc == STT_EIO)
            fail(o, 500, NULL, "storage", STT_UPLOAD_FAILED, "temp_file",
                 "The server could not read the upload back (%s)", err);
        else
            fail(o, 400, "file", "invalid_file_format", STT_UPLOAD_UNSUPPORTED,
                 "unsupported_format",
                 "Invalid file format. Supported formats: ['flac', 'mp3', 'mpeg', 'mpga', "
                 "'oga', 'ogg', 'opus', 'wav'] (%s)",
                 err[0] ? err : "not an audio file");
        return -1;
    }
    o->rate_hz = stt_decoder_rate(o->dec);
    double max_s = o->env->cfg->upload_max_duration;
    o->duration_s = stt_decoder_duration_s(o->dec);
    if (o->duration_s > max_s) {
        fail(o, 413, "file", "audio_too_long", STT_UPLOAD_TOO_LARGE, "too_long",
             "Audio file is too long: %.1f seconds; the maximum is %.0f seconds",
             o->duration_s, max_s);
        return -1;
    }
    o->max_samples = (uint64_t)(max_s * o->rate_hz);
    o->slice_frames = (size_t)(SLICE_S * o->rate_hz);
    if (o->slice_frames < 64)
        o->slice_frames = 64;
    o->slice = stt_malloc(o->slice_frames * sizeof(int16_t));
    return 0;
}

static void on_body_end(void *state)
{
    oaf_t *o = state;
    if (o->answered)
        return;
    if (o->kind == KIND_MODELS) {
        answer_models(o);
        return;
    }
    int rc = stt_multipart_finish(o->mp);
    if (rc != 0) {
        fail(o, 400, NULL, "invalid_multipart", STT_UPLOAD_BAD_REQUEST,
             rc == STT_MP_E_TRUNCATED ? "truncated_multipart" : "bad_multipart",
             "Could not parse multipart form: %s", stt_multipart_error(rc));
        return;
    }
    stt_multipart_destroy(o->mp);
    o->mp = NULL;
    if (!o->file_seen) {
        fail(o, 400, "file", "missing_required_parameter", STT_UPLOAD_BAD_REQUEST,
             "missing_file", "Missing required parameter: 'file'.");
        return;
    }
    stt_oaf_error_t e;
    if (stt_oaf_check(&o->req, &e) != 0) {
        respond_error(o, &e, NULL, STT_UPLOAD_BAD_REQUEST, "bad_field");
        return;
    }
    stt_models_t ms;
    stt_models_list(o->env, &ms);
    if (!stt_models_known(&ms, o->req.model)) {
        char names[512];
        stt_models_join(&ms, names, sizeof(names));
        fail(o, 400, "model", "model_not_found", STT_UPLOAD_BAD_REQUEST, "unknown_model",
             "The model '%.80s' does not exist; this server accepts: %.300s", o->req.model,
             names);
        return;
    }
    if (o->kind == KIND_TRANSLATE && !ms.multilingual) {
        fail(o, 400, "model", "translation_unsupported", STT_UPLOAD_BAD_REQUEST,
             "translation_unsupported",
             "The model '%.80s' cannot translate: translations need a multilingual Whisper "
             "model (this server runs %.80s, engine %s)",
             o->req.model, ms.n ? ms.names[0] : "?", ms.engine);
        return;
    }
    if (o->file_bytes == 0) {
        fail(o, 400, "file", "invalid_file_format", STT_UPLOAD_UNSUPPORTED, "empty_file",
             "The audio file is empty");
        return;
    }
    if (open_decoder(o) != 0)
        return;
    stt_stream_params_t sp = stt_stream_default_params(o->env->rec);
    sp.log_id = o->id;
    sp.batch = 1;
    sp.partials = 0; /* finals only: partial passes would cost engine time for nothing */
    /* A file has no listener waiting for the end of a turn: longer segments give Whisper more
     * context. jfk.wav at the live default (0.7 s) came out as "...Americans. Ask not!'. What
     * your country...", at 1.0 s as the one sentence it is (same WER on librivox, 0.028).
     * No early (speculative) finals either: they would only cost engine time. */
    if (sp.turn.post_speech_silence_s < FILE_SEGMENT_SILENCE_S)
        sp.turn.post_speech_silence_s = FILE_SEGMENT_SILENCE_S;
    sp.turn.early_transcription_on_silence_s = 0;
    sp.keep_utterance_audio = 0;
    if (o->req.language[0])
        snprintf(sp.utt.language, sizeof(sp.utt.language), "%s", o->req.language);
    if (o->req.prompt[0])
        stt_oaf_tail_utf8(o->req.prompt, sp.utt.prompt, sizeof(sp.utt.prompt));
    sp.utt.translate = o->kind == KIND_TRANSLATE;
    /* The language verbose_json reports when the engine does not say: the one asked, else
     * the configured one, else English for an English-only model. */
    snprintf(o->language, sizeof(o->language), "%s",
             o->kind == KIND_TRANSLATE ? "en"
             : o->req.language[0]      ? o->req.language
             : sp.utt.language[0]      ? sp.utt.language
             : !ms.multilingual        ? "en"
                                       : "");
    o->stream = stt_conn_open_stream(o->conn, o->env->rec, &sp, on_event, o);
    if (!o->stream) {
        fail(o, 500, NULL, "server_error", STT_UPLOAD_FAILED, "no_stream",
             "The server could not start the transcription");
        return;
    }
    o->started_s = stt_now_s();
    STT_INFO(o->id, "openai_files_start",
             "%s: %s, %d Hz, %.1f s declared, %llu bytes, format %s%s, model %s",
             o->kind == KIND_TRANSLATE ? "translation" : "transcription",
             stt_decoder_format_name(o->dec), o->rate_hz, o->duration_s,
             (unsigned long long)o->file_bytes, stt_oaf_format_name(o->req.format),
             o->req.stream ? " (stream)" : "", o->req.model);
    if (o->req.stream) {
        o->answered = 1;
        stt_conn_http_head(o->conn, 200, "text/event-stream", -1, NULL);
    }
    feed_some(o);
}

/* ---- lifecycle ---- */

static int authorize(const stt_adapter_env_t *env, const stt_request_t *req, const char **why)
{
    return stt_api_key_check(env, req, why);
}

/* OpenAI's error shape for the server's own refusals (401, 404, 429, 503). */
static char *refusal_body(int status, const char *code, const char *message)
{
    stt_oaf_error_t e;
    const char *c = code;
    const char *type = "invalid_request_error";
    if (status == 401)
        c = "invalid_api_key";
    else if (status == 429) {
        type = "requests";
        c = "rate_limit_exceeded";
    } else if (status >= 500)
        type = "server_error";
    stt_oaf_error_set(&e, status, NULL, c, "%s", message ? message : "");
    e.type = type;
    return stt_oaf_build_error(&e);
}

static int adapter_open(const stt_adapter_env_t *env, stt_conn_t *c, const stt_request_t *req,
                        void **state)
{
    oaf_t *o = stt_calloc(1, sizeof(*o));
    o->conn = c;
    o->env = env;
    o->id = stt_conn_id(c);
    o->fd = -1;
    *state = o;
    snprintf(o->path, sizeof(o->path), "%s", req->path);
    stt_oaf_request_init(&o->req);
    int models = strncmp(req->path, "/v1/models", 10) == 0;
    o->kind = models ? KIND_MODELS
              : strncmp(req->path, "/v1/audio/translations", 22) == 0 ? KIND_TRANSLATE
                                                                     : KIND_TRANSCRIBE;
    const char *want = models ? "GET" : "POST";
    int path_ok = models || strcmp(req->path, "/v1/audio/transcriptions") == 0 ||
                  strcmp(req->path, "/v1/audio/translations") == 0;
    if (!path_ok) {
        fail(o, 404, NULL, "unknown_url", STT_UPLOAD_BAD_REQUEST, "unknown_url",
             "Invalid URL (%s %.100s)", req->method, req->path);
        return 0;
    }
    if (strcmp(req->method, want) != 0) {
        fail(o, 405, NULL, "method_not_allowed", STT_UPLOAD_BAD_REQUEST, "bad_method",
             "Invalid method for URL (%s %.100s)", req->method, req->path);
        return 0;
    }
    if (models)
        return 0; /* answered at body end (right after open: no body) */
    char v[512];
    if (req->header(req->req, "content-length", v, sizeof(v)) > 0) {
        o->content_length = strtoull(v, NULL, 10);
        if (o->content_length > (uint64_t)env->cfg->upload_max_bytes) {
            fail_too_big(o, o->content_length);
            return 0;
        }
    }
    char boundary[STT_MP_MAX_BOUNDARY + 1];
    int ct = req->header(req->req, "content-type", v, sizeof(v));
    int rc = ct > 0 ? stt_multipart_boundary(v, boundary, sizeof(boundary))
                    : STT_MP_E_NOT_MULTIPART;
    if (rc != 0) {
        fail(o, 400, NULL, "invalid_content_type", STT_UPLOAD_BAD_REQUEST, "not_multipart",
             "Invalid Content-Type header (%.100s): expected multipart/form-data with a "
             "boundary (%s)",
             ct > 0 ? v : "none", stt_multipart_error(rc));
        return 0;
    }
    if (env->rec->m.uploads_active >= env->cfg->max_uploads) {
        stt_oaf_error_t e;
        stt_oaf_error_set(&e, 429, NULL, "rate_limit_exceeded",
                          "Too many transcriptions at once: this server runs at most %lld "
                          "(--max_uploads). Please retry after a short wait.",
                          (long long)env->cfg->max_uploads);
        e.type = "requests";
        respond_error(o, &e, "Retry-After: 2\r\n", STT_UPLOAD_BUSY, "busy");
        return 0;
    }
    env->rec->m.uploads_active++;
    o->holds_slot = 1;
    stt_multipart_cb_t cb = {part_begin, part_data, part_end};
    o->mp = stt_multipart_create(boundary, &cb, o);
    o->field_buf = stt_malloc(STT_OAF_FIELD_MAX_BYTES + 1);
    /* Body chunks come as lws reads them; no assembly cap beyond the body limit. */
    stt_conn_set_max_message(c, 0);
    return 0;
}

static void adapter_closed(void *state)
{
    oaf_t *o = state;
    if (!o->counted && o->kind != KIND_MODELS) {
        STT_INFO(o->id, "openai_files_gone",
                 "the client left before the answer (%llu body bytes, %.1f s decoded)",
                 (unsigned long long)o->body_bytes,
                 o->rate_hz ? (double)o->decoded / o->rate_hz : 0);
        count(o, STT_UPLOAD_DISCONNECTED);
    }
    stt_conn_t *c = o->conn;
    stt_stream_t *s = o->stream;
    o->stream = NULL;
    release_upload(o);
    if (s) {
        o->stream_closing = 1;
        o->conn = NULL;
        stt_conn_close_stream(c, s, stream_closed, o); /* may free o at once */
        return;
    }
    o->conn = NULL;
    if (!o->stream_closing)
        free_state(o);
}

const stt_adapter_t stt_adapter_openai_files = {
    .name = "openai_files",
    .transport = STT_TRANSPORT_HTTP,
    .counts_as_call = 0,
    .open = adapter_open,
    .authorize = authorize,
    .refusal_body = refusal_body,
    .on_message = on_message,
    .on_body_end = on_body_end,
    .on_pace = on_pace,
    .on_closed = adapter_closed,
};
