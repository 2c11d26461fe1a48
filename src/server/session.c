/* Data sessions: one per data-socket connection, fully isolated.
 *
 * Threads: the loop thread only. Ownership: a session owns its receive buffer, DSP state, turn
 * machine, output queue and utterance states. Audio leaves the session only inside jobs (copied,
 * owned by the job) and comes back as results through stt_session_on_job_done. Two-phase
 * teardown: when the socket goes, the session is detached (wsi = NULL, current utterance
 * abandoned) and freed only once every job it handed out has come back (jobs_out == 0).
 *
 * Pipeline per binary frame: parse (proto/rtstt_frame) -> optional -W write -> resample to
 * 16 kHz (stateful) -> 512-sample chunks -> VAD -> turn machine -> events; while recording, new
 * audio goes to the engine in FEED jobs, at most one in flight per utterance, so audio that
 * arrives meanwhile simply accumulates and the next job carries all of it (natural coalescing). */
#include "server.h"

#include "stt/error.h"
#include "stt/log.h"
#include "stt/rtstt_frame.h"
#include "stt/text.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DECODER_RETRY_S 0.05
#define FINAL_RETRY_S 0.2 /* a failed final is tried again after this (breaker permitting) */

static double epoch_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int stt_outq_push(stt_outq_t *q, const char *data, size_t len)
{
    if (q->bytes > 0 && q->bytes + len > STT_OUTQ_MAX_BYTES)
        return -1; /* one message alone may be larger (a very long utterance's audio) */
    stt_outmsg_t *m = stt_malloc(sizeof(*m) + LWS_PRE + len);
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, data, len);
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->count++;
    q->bytes += len;
    return 0;
}

stt_outmsg_t *stt_outq_pop(stt_outq_t *q)
{
    stt_outmsg_t *m = q->head;
    if (!m)
        return NULL;
    q->head = m->next;
    if (!q->head)
        q->tail = NULL;
    q->count--;
    q->bytes -= m->len;
    q->sent++;
    return m;
}

void stt_outq_clear(stt_outq_t *q)
{
    stt_outmsg_t *m;
    while ((m = stt_outq_pop(q)))
        free(m);
}

void stt_session_send_json(stt_session_t *s, char *json)
{
    if (!json)
        return;
    if (s->wsi && !s->closing) {
        size_t len = strlen(json);
        if (s->srv->cfg->use_extended_logging)
            STT_INFO(s->id, "send", "%.200s", json);
        if (stt_outq_push(&s->out, json, len) != 0)
            stt_session_drop_stuck(s, 1); /* a close frame would only queue behind the rest */
        else
            stt_server_request_write(s->wsi);
    }
    free(json);
}

static void send_type(stt_session_t *s, const char *type)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    stt_session_send_json(s, cJSON_PrintUnformatted(o));
    cJSON_Delete(o);
}

static void send_text(stt_session_t *s, const char *type, const char *text)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "text", text);
    stt_session_send_json(s, cJSON_PrintUnformatted(o));
    cJSON_Delete(o);
}

/* fullSentence, with the engine's extended fields when it has them (whisper): the language it
 * decoded in and the segments (times in seconds from the start of the utterance audio). Clients
 * of the original protocol ignore keys they do not know. */
static void send_final(stt_session_t *s, const char *text, stt_result_t *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "fullSentence");
    cJSON_AddStringToObject(o, "text", text);
    if (r->language[0])
        cJSON_AddStringToObject(o, "language", r->language);
    if (r->segments) {
        cJSON_AddItemToObject(o, "segments", r->segments);
        r->segments = NULL; /* now owned by o */
    }
    stt_session_send_json(s, cJSON_PrintUnformatted(o));
    cJSON_Delete(o);
}

void stt_session_close(stt_session_t *s, int code, const char *reason)
{
    if (!s->wsi || s->closing)
        return;
    s->closing = 1;
    s->close_code = code;
    /* Close reasons must fit a control frame (123 bytes); longer ones are cut. */
    size_t n = strlen(reason);
    if (n >= sizeof(s->close_reason))
        n = sizeof(s->close_reason) - 1;
    memcpy(s->close_reason, reason, n);
    s->close_reason[n] = '\0';
    stt_server_request_write(s->wsi);
}

void stt_session_drop_stuck(stt_session_t *s, int cap_hit)
{
    stt_session_close(s, 1008, "client is not reading transcripts");
    stt_server_drop_stuck(s->srv, s->wsi, s->id, &s->out, cap_hit);
}

void stt_session_send_error(stt_session_t *s, const char *code, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "error");
    cJSON_AddStringToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", message);
    stt_session_send_json(s, cJSON_PrintUnformatted(o));
    cJSON_Delete(o);
}

static stt_turn_params_t turn_params(const stt_session_t *s)
{
    const stt_session_params_t *p = &s->params;
    stt_turn_params_t t = stt_turn_default_params();
    t.min_length_of_recording_s = p->min_length_of_recording;
    t.min_gap_between_recordings_s = p->min_gap_between_recordings;
    t.deactivity_silence_confirmation_s = p->deactivity_silence_confirmation_duration;
    t.post_speech_silence_s = p->post_speech_silence_duration;
    t.early_transcription_on_silence_s = p->early_transcription_on_silence;
    t.pre_recording_buffer_s = p->pre_recording_buffer_duration;
    t.max_utterance_s = s->srv->cfg->max_utterance_seconds;
    return t;
}

void stt_session_params_changed(stt_session_t *s)
{
    stt_turn_params_t tp = turn_params(s);
    stt_turn_set_params(s->turn, &tp);
    stt_vad_params_t vp = stt_vad_default_params();
    stt_vad_params_from_sensitivity(&vp, s->params.silero_sensitivity,
                                    (int)s->params.webrtc_sensitivity);
    stt_vad_set_params(&s->vad, &vp);
}

/* ---- utterances and jobs ---- */

static stt_job_t *job_new(stt_uttstate_t *u, stt_job_kind_t kind)
{
    stt_session_t *s = u->session;
    stt_job_t *j = stt_calloc(1, sizeof(*j));
    j->kind = kind;
    j->done = stt_session_on_job_done;
    j->done_data = u;
    j->utt_seq = u->seq;
    j->utt = u->handle;
    u->handle = NULL;
    snprintf(j->opt.language, sizeof(j->opt.language), "%s", s->params.language);
    j->opt.beam_size = (int)s->params.beam_size;
    j->opt.beam_size_realtime = (int)s->params.beam_size_realtime;
    u->inflight = 1;
    u->job = j;
    s->jobs_out++;
    s->srv->jobs_in_flight++;
    return j;
}

static void uttstate_free(stt_uttstate_t *u)
{
    free(u->speech);
    free(u->final_pcm);
    free(u->last_partial);
    free(u);
}

static void finishing_remove(stt_session_t *s, stt_uttstate_t *u)
{
    for (stt_uttstate_t **pp = &s->finishing; *pp; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = u->next;
            u->next = NULL;
            return;
        }
    }
}

/* Releases an utterance that will produce no result: hands its engine handle back through an
 * ABORT job, or frees it at once if the engine never saw it. */
static void utt_release(stt_uttstate_t *u)
{
    u->abandoned = 1;
    if (u->inflight) {
        /* Finished when the job comes back; a long engine call stops early (whisper). */
        __atomic_store_n(&u->job->cancel, 1, __ATOMIC_RELAXED);
        return;
    }
    if (u->handle) {
        stt_pool_submit(u->session->srv->pool, job_new(u, STT_JOB_ABORT));
        return;
    }
    uttstate_free(u);
}

static int partial_due(stt_session_t *s, stt_uttstate_t *u, double now)
{
    const stt_config_t *cfg = s->srv->cfg;
    if (!cfg->enable_realtime_transcription || u->ended)
        return 0;
    if (stt_turn_awaiting_speech_end(s->turn))
        return 0;
    if (now - u->start_wall_s < 0)
        return 0;
    double pause = s->params.realtime_processing_pause;
    /* Engine queueing: fewer partials first, but never before an utterance's first one (the
     * caller is waiting to see that it was heard; it is also the urgent job of pool.h). */
    if (u->partials_sent > 0 && pause < s->srv->load.pace_s)
        pause = s->srv->load.pace_s;
    if (now - s->last_partial_start_s < pause)
        return 0;
    return 1;
}

/* 1 if the VAD heard speech in chunk c of the recording; a chunk not yet judged counts as speech. */
static int chunk_speech(const stt_uttstate_t *u, size_t c)
{
    return c >= u->n_chunks || u->speech[c];
}

/* Audio of this call that will not be transcribed: counted (stt_audio_chunks_dropped_total),
 * logged, and the call told with a warning event (if it is still connected). */
static void report_dropped(stt_session_t *s, size_t chunks, size_t speech, const char *msg)
{
    s->srv->m.chunks_dropped += chunks;
    s->srv->m.speech_chunks_dropped += speech;
    STT_WARN(s->id, "audio_dropped", "%s", msg);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "warning");
    cJSON_AddStringToObject(o, "code", "audio_dropped");
    cJSON_AddStringToObject(o, "message", msg);
    cJSON_AddNumberToObject(o, "dropped_chunks", (double)chunks);
    cJSON_AddNumberToObject(o, "dropped_speech_chunks", (double)speech);
    stt_session_send_json(s, cJSON_PrintUnformatted(o));
    cJSON_Delete(o);
}

/* Copies the utterance's samples [from, to) into the job. With --handle_buffer_overflow, when the
 * engine has fallen further behind than --allowed_latency_limit chunks, the oldest chunks beyond
 * the limit are left out: those the VAD heard no speech in first, then speech, oldest first;
 * every dropped chunk is counted and the client is told (the original dropped silently). */
static void job_take_audio(stt_uttstate_t *u, stt_job_t *j, const int16_t *held, size_t base,
                           size_t from, size_t to)
{
    const int16_t *src = held + (from - base); /* sample `from` of the utterance */
    stt_session_t *s = u->session;
    const stt_config_t *cfg = s->srv->cfg;
    const size_t C = STT_TURN_CHUNK_SAMPLES;
    size_t total = to - from, limit = (size_t)cfg->allowed_latency_limit * C;
    j->pcm = stt_malloc((total ? total : 1) * sizeof(int16_t));
    if (!cfg->handle_buffer_overflow || total <= limit || from % C != 0) {
        memcpy(j->pcm, src, total * sizeof(int16_t));
        j->n_samples = total;
        return;
    }
    size_t first = from / C, n = total / C; /* whole chunks; a trailing part is always kept */
    size_t excess = (total - limit + C - 1) / C, dropped = 0, speech_dropped = 0;
    uint8_t *drop = stt_calloc(n, 1);
    for (int pass = 0; pass < 2 && dropped < excess; pass++) {
        for (size_t i = 0; i < n && dropped < excess; i++) {
            int speech = chunk_speech(u, first + i);
            if (!drop[i] && speech == pass) {
                drop[i] = 1;
                dropped++;
                speech_dropped += (size_t)speech;
            }
        }
    }
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (!drop[i]) {
            memcpy(j->pcm + out, src + i * C, C * sizeof(int16_t));
            out += C;
        }
    }
    memcpy(j->pcm + out, src + n * C, (total - n * C) * sizeof(int16_t));
    j->n_samples = out + (total - n * C);
    free(drop);

    char msg[200];
    snprintf(msg, sizeof(msg),
             "engine %.2f s behind (limit %.2f s): dropped %zu chunks (%.2f s), %zu with speech",
             (double)total / 16000.0, (double)limit / 16000.0, dropped,
             (double)(dropped * C) / 16000.0, speech_dropped);
    report_dropped(s, dropped, speech_dropped, msg);
}

/* Frees the audio the engine has consumed, when nothing else will want it: the engine decodes
 * incrementally, transcription_start carries no audio and no control connection may ask for
 * last_transcription_bytes. A session then holds only audio that is not transcribed yet, not
 * the whole utterance (null engine, 2,000 calls: see bench/README.md). */
static void release_fed(stt_session_t *s, stt_uttstate_t *u)
{
    if (u == s->cur && s->srv->engine->incremental && !s->params.transcription_start_audio &&
        !s->ctl)
        stt_turn_release(s->turn, u->job_end);
}

/* The watchdog's deadline for a job: --job_timeout plus --job_timeout_per_audio_second for each
 * second of audio it decodes (an engine that is not incremental decodes the whole utterance). */
static void job_deadline(stt_uttstate_t *u, stt_job_t *j, size_t end)
{
    const stt_server_t *srv = u->session->srv;
    size_t begin = srv->engine->incremental ? end - j->n_samples : u->fed_start;
    double audio_s = (double)(end > begin ? end - begin : 0) / 16000.0;
    j->timeout_s = srv->cfg->job_timeout + srv->cfg->job_timeout_per_audio_second * audio_s;
}

/* A failed job lost the engine's state of an utterance whose audio [fed_start, base) was already
 * released (incremental engines free what they consumed): that audio cannot be decoded again.
 * It is counted like --handle_buffer_overflow's drops and the call is told. */
static void note_lost_audio(stt_uttstate_t *u, size_t base)
{
    stt_session_t *s = u->session;
    if (base <= u->fed_start)
        return;
    const size_t C = STT_TURN_CHUNK_SAMPLES;
    size_t first = u->fed_start / C, last = (base + C - 1) / C, speech = 0;
    for (size_t c = first; c < last; c++)
        speech += (size_t)chunk_speech(u, c);
    size_t chunks = last - first;
    u->fed_start = base;
    char msg[200];
    snprintf(msg, sizeof(msg),
             "engine failure: %zu chunks (%.2f s) of utterance %u were decoded by the failed "
             "job and are no longer held; the rest is decoded again",
             chunks, (double)(chunks * C) / 16000.0, u->seq);
    report_dropped(s, chunks, speech, msg);
}

/* The end of the audio the engine needs now, of the first n samples: with --engine_post_roll,
 * silence more than that far after the last chunk the VAD heard speech in waits (it is fed if
 * speech resumes, and never if the recording stops first). */
static size_t engine_end(const stt_uttstate_t *u, size_t n)
{
    double post = u->session->srv->cfg->engine_post_roll;
    size_t last = u->n_chunks;
    if (post < 0)
        return n;
    while (last > 0 && !u->speech[last - 1])
        last--;
    if (last == 0)
        return n; /* no speech flagged yet: nothing to judge by */
    size_t end = last * STT_TURN_CHUNK_SAMPLES + (size_t)(post * 16000.0);
    return end < n ? end : n;
}

/* Hands the audio recorded since the last job to the engine, if no job for this utterance is out.
 */
static void utt_pump(stt_session_t *s, double now)
{
    stt_uttstate_t *u = s->cur;
    if (!u || u->inflight || u->ended || now < u->retry_at_s || !stt_server_engine_up(s->srv))
        return;
    size_t held;
    const int16_t *rec = stt_turn_recording(s->turn, &held);
    size_t base = stt_turn_recording_offset(s->turn), n = engine_end(u, base + held);
    if (!rec || n <= u->fed)
        return;
    if (u->fed < base) { /* a rewind after an engine failure: what was released is gone */
        note_lost_audio(u, base);
        u->fed = base;
    }
    stt_job_t *j = job_new(u, STT_JOB_FEED);
    job_take_audio(u, j, rec, base, u->fed, n);
    job_deadline(u, j, n);
    u->fed = u->job_end = n;
    j->want_partial = partial_due(s, u, now);
    j->urgent = j->want_partial && u->partials_sent == 0;
    j->ending = stt_turn_awaiting_speech_end(s->turn);
    if (j->want_partial)
        s->last_partial_start_s = now;
    stt_pool_submit(s->srv->pool, j);
}

static void utt_submit_final(stt_uttstate_t *u)
{
    stt_session_t *s = u->session;
    stt_job_t *j = job_new(u, STT_JOB_FINAL);
    size_t end = engine_end(u, u->final_n);
    size_t from = u->fed <= end ? u->fed : end;
    if (from < u->final_base) {
        if (!u->handle)
            note_lost_audio(u, u->final_base);
        from = u->final_base;
    }
    if (end < from)
        end = from;
    job_take_audio(u, j, u->final_pcm, u->final_base, from, end);
    job_deadline(u, j, end);
    u->fed = end;
    stt_pool_submit(s->srv->pool, j);
}

static void send_transcription_start(stt_session_t *s, const int16_t *pcm, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "transcription_start");
    if (s->params.transcription_start_audio && pcm) {
        /* float32 LE in [-1, 1), as the original sends (spec 3.3). */
        size_t nbytes = n * 4;
        uint8_t *f = stt_malloc(nbytes ? nbytes : 1);
        for (size_t i = 0; i < n; i++) {
            float v = (float)pcm[i] / 32768.0f;
            memcpy(f + 4 * i, &v, 4);
        }
        char *b64 = stt_malloc(stt_base64_encoded_len(nbytes) + 1);
        stt_base64_encode(f, nbytes, b64);
        cJSON_AddStringToObject(o, "audio_bytes_base64", b64);
        free(b64);
        free(f);
    } else {
        cJSON_AddStringToObject(o, "audio_bytes_base64", "");
    }
    stt_session_send_json(s, cJSON_PrintUnformatted(o));
    cJSON_Delete(o);
}

static void on_recording_start(stt_session_t *s)
{
    if (s->cur) /* cannot happen: a stop always precedes a start */
        utt_release(s->cur);
    stt_uttstate_t *u = stt_calloc(1, sizeof(*u));
    u->session = s;
    u->seq = ++s->utt_seq;
    u->start_wall_s = stt_now_s();
    s->cur = u;
    s->srv->m.utterances++;
    /* The engine decodes only the end of the pre-roll (--engine_pre_roll): whole chunks, so the
     * speech flags of --handle_buffer_overflow stay aligned. */
    double keep_s = s->srv->cfg->engine_pre_roll;
    size_t n = 0;
    if (keep_s >= 0 && stt_turn_recording(s->turn, &n) && n > STT_TURN_CHUNK_SAMPLES) {
        size_t pre = n - STT_TURN_CHUNK_SAMPLES; /* the last chunk confirmed the onset */
        size_t keep =
            (size_t)(keep_s * 16000.0 / STT_TURN_CHUNK_SAMPLES + 0.5) * STT_TURN_CHUNK_SAMPLES;
        u->fed = u->fed_start = pre > keep ? pre - keep : 0;
    }
    STT_DEBUG(s->id, "recording_start", "utterance %u", u->seq);
}

/* recording_stop: the utterance is taken at once, but transcription_start and the final job
 * wait until the machine has emitted stop_turn_detection, to keep the original's order
 * (recording_stop, stop_turn_detection, transcription_start, fullSentence, vad_detect_start). */
static void on_recording_stop(stt_session_t *s)
{
    stt_uttstate_t *u = s->cur;
    s->cur = NULL;
    s->recording_stop_epoch = epoch_now();
    size_t n = 0;
    int16_t *pcm = stt_turn_take_utterance(s->turn, &n);
    if (!u) {
        free(pcm);
        return;
    }
    if (!pcm) { /* abort: no final */
        utt_release(u);
        return;
    }
    u->ended = 1;
    u->final_pcm = pcm;
    u->final_base = stt_turn_utterance_offset(s->turn);
    u->final_n = u->final_base + n;
    u->stop_wall_s = stt_now_s();
    u->next = s->finishing;
    s->finishing = u;
    s->stopped = u;
}

/* Sends transcription_start and submits the final of the utterance that just stopped. */
static void flush_stopped(stt_session_t *s)
{
    stt_uttstate_t *u = s->stopped;
    if (!u)
        return;
    s->stopped = NULL;
    /* Released audio is gone: the event then carries no audio (only possible when the audio
     * was switched on by set_parameter during the utterance). */
    send_transcription_start(s, u->final_base ? NULL : u->final_pcm,
                             u->final_base ? 0 : u->final_n);
    STT_DEBUG(s->id, "recording_stop", "utterance %u: %.2f s", u->seq,
              (double)u->final_n / 16000.0);
    if (!u->inflight && stt_server_engine_up(s->srv)) {
        utt_submit_final(u);
    } else if (u->inflight && u->job->kind == STT_JOB_FEED) {
        /* The final would wait for this feed: if the feed still waits for a worker and carries
         * everything the final needs, it becomes the final; otherwise it goes first. */
        if (u->fed < engine_end(u, u->final_n) ||
            !stt_pool_convert_to_final(s->srv->pool, u->job))
            stt_pool_expedite(s->srv->pool, u->job);
    }
}

static void turn_event(void *data, stt_turn_event_t ev, uint64_t at_sample)
{
    stt_session_t *s = data;
    switch (ev) {
    case STT_TEV_EARLY_TRANSCRIPTION:
        return; /* incremental engines need no speculative final */
    case STT_TEV_VAD_DETECT_START:
        s->listen_start_epoch = epoch_now();
        flush_stopped(s);
        if (s->finishing) {
            /* The original announces listening only after the final; if speech starts again
             * first, neither vad_detect_start nor vad_detect_stop is sent. */
            s->vad_start_pending = 1;
            return;
        }
        break;
    case STT_TEV_VAD_DETECT_STOP:
        if (s->vad_start_pending) {
            s->vad_start_pending = 0;
            return;
        }
        break;
    case STT_TEV_START_TURN_DETECTION:
        s->speech_end_silence_epoch = epoch_now();
        /* Speech ended: the final will wait for the feed in the queue, so it goes first. */
        if (s->cur && s->cur->inflight && s->cur->job->kind == STT_JOB_FEED)
            stt_pool_expedite(s->srv->pool, s->cur->job);
        break;
    case STT_TEV_STOP_TURN_DETECTION:
        s->speech_end_silence_epoch = 0;
        break;
    case STT_TEV_RECORDING_START:
        on_recording_start(s);
        break;
    default:
        break;
    }
    send_type(s, stt_turn_event_name(ev));
    if (ev == STT_TEV_RECORDING_STOP) {
        on_recording_stop(s);
        /* Draining: the utterance in progress was the last one; later audio is not recorded. */
        if (s->drain_close)
            s->drain_ignore_audio = 1;
    }
}

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
 * text chooses post_speech_silence_duration, and a recording whose realtime text has not changed
 * for 3 s (background noise keeping it open) is ended. */
static void dynamic_silence(stt_session_t *s, stt_uttstate_t *u, const char *text)
{
    const stt_config_t *cfg = s->srv->cfg;
    double pause;
    if (ends_ellipsis(text))
        pause = cfg->mid_sentence_detection_pause;
    else if (ends_sentence(text) && u->last_partial && ends_sentence(u->last_partial) &&
             !ends_ellipsis(u->last_partial))
        pause = cfg->end_of_sentence_detection_pause;
    else
        pause = cfg->unknown_sentence_detection_pause;
    if (pause != s->params.post_speech_silence_duration) {
        s->params.post_speech_silence_duration = pause;
        stt_session_params_changed(s);
    }
}

/* Hard break of 5.10: identical realtime text (over 15 chars) for 3 s ends the recording. */
static void hard_break_check(stt_session_t *s, stt_uttstate_t *u, const char *text, double now)
{
    if (!u->last_partial || strcmp(u->last_partial, text) != 0 || strlen(text) <= 15) {
        u->same_text_since_s = now;
        return;
    }
    if (now - u->same_text_since_s >= 3.0 && stt_turn_stop(s->turn) == 0)
        STT_INFO(s->id, "hard_break", "realtime text unchanged for 3 s; recording ended");
}

static void handle_partial(stt_session_t *s, stt_uttstate_t *u, stt_job_t *j)
{
    if (!j->want_partial || !j->result.text || u != s->cur || u->ended)
        return;
    char text[4096];
    stt_text_realtime(j->result.text, text, sizeof(text));
    if (s->srv->cfg->silence_timing && text[0]) {
        hard_break_check(s, u, text, stt_now_s());
        if (u != s->cur)
            return; /* the hard break ended it */
    }
    if (!text[0] || (u->last_partial && strcmp(u->last_partial, text) == 0))
        return;
    double elapsed = stt_now_s() - u->start_wall_s;
    if (elapsed < s->params.init_realtime_after_seconds)
        return;
    if (s->srv->cfg->silence_timing)
        dynamic_silence(s, u, text);
    free(u->last_partial);
    u->last_partial = stt_strdup(text);
    if (u->partials_sent++ == 0)
        stt_hist_observe(&s->srv->m.first_partial_latency, elapsed);
    s->srv->m.partials_sent++;
    send_text(s, "realtime", text);
}

/* A final that failed (engine error, watchdog timeout) is decoded again from the audio the
 * utterance still holds, as long as it ended less than --final_hold ago: during an outage the
 * breaker holds it until the engine is back. Returns 1 when it will be retried. */
static int final_retry(stt_session_t *s, stt_uttstate_t *u, const stt_job_t *j)
{
    double now = stt_now_s();
    if (!s->wsi || s->closing || j->status == STT_ECANCELED ||
        now - u->stop_wall_s >= s->srv->cfg->final_hold)
        return 0;
    u->fed = u->fed_start;
    u->retry_at_s = now + FINAL_RETRY_S;
    u->retries++;
    s->srv->m.finals_retried++;
    STT_WARN(s->id, "final_retry", "utterance %u: %s; decoding it again (retry %d, %.1f s after "
             "it ended)", u->seq, stt_strerror(j->status), u->retries, now - u->stop_wall_s);
    return 1;
}

/* Returns 1 when the utterance stays (its final will be retried), 0 when it is done. */
static int handle_final(stt_session_t *s, stt_uttstate_t *u, stt_job_t *j)
{
    stt_metrics_t *m = &s->srv->m;
    if (j->status != 0 && j->status != STT_ECANCELED)
        m->transcription_errors++;
    if (j->status != 0 && final_retry(s, u, j))
        return 1;
    finishing_remove(s, u);
    if (j->status != 0) {
        m->finals_failed++;
        STT_ERROR(s->id, "final_failed", "utterance %u: %s", u->seq, stt_strerror(j->status));
        if (s->wsi)
            stt_session_send_error(s, "transcription_failed", stt_strerror(j->status));
        if (s->vad_start_pending && !s->finishing) {
            s->vad_start_pending = 0;
            send_type(s, "vad_detect_start");
        }
        return 0;
    }
    char text[8192];
    stt_text_final(j->result.text ? j->result.text : "", text, sizeof(text));
    if (s->wsi && !s->closing) {
        stt_hist_observe(&m->final_latency, stt_now_s() - u->stop_wall_s);
        m->finals_sent++;
        send_final(s, text, &j->result);
        /* last_transcription_bytes is only readable over a control connection: keep the audio
         * (moved, not copied) only for a session that has one, so the thousands of telephony
         * sessions without control connections hold no finished utterance. */
        free(s->last_utt);
        s->last_utt = NULL;
        s->last_utt_n = 0;
        if (s->ctl && u->final_base == 0) {
            s->last_utt = u->final_pcm;
            s->last_utt_n = u->final_n;
            u->final_pcm = NULL;
        }
        if (s->vad_start_pending && !s->finishing) {
            s->vad_start_pending = 0;
            send_type(s, "vad_detect_start");
        }
        STT_INFO(s->id, "final", "utterance %u: %zu chars, %.2f s audio", u->seq, strlen(text),
                 (double)u->final_n / 16000.0);
    } else {
        m->finals_dropped++;
    }
    return 0;
}

void stt_session_on_job_done(stt_job_t *j, void *data)
{
    stt_uttstate_t *u = data;
    stt_session_t *s = u->session;
    stt_server_t *srv = s->srv;
    s->jobs_out--;
    srv->jobs_in_flight--;
    u->inflight = 0;
    u->job = NULL;
    STT_DEBUG(s->id, "job_done", "kind %d utt %u: %zu samples, waited %.1f ms, ran %.1f ms, rc %d",
              (int)j->kind, u->seq, j->n_samples, 1e3 * (j->started_s - j->submitted_s),
              1e3 * stt_job_engine_s(j), j->status);
    u->handle = j->utt;
    double dur = stt_job_engine_s(j);
    if (j->status == STT_ECANCELED && j->started_s > 0)
        srv->m.jobs_cancelled++; /* stopped early: its session went away (not an error) */
    if (j->kind != STT_JOB_ABORT && j->status != STT_EBUSY && j->status != STT_ECANCELED)
        stt_server_job_outcome(srv, j->status);

    if (j->kind == STT_JOB_ABORT) {
        if (u->rewind && !u->abandoned) {
            u->rewind = 0;
            u->fed = u->fed_start; /* decoded again by the reloaded model */
        } else {
            uttstate_free(u);
        }
    } else if (j->status == STT_EBUSY) {
        /* No decoder free: nothing was decoded; rewind and retry shortly. */
        srv->m.decoder_waits++;
        u->fed = u->fed_start;
        u->retry_at_s = stt_now_s() + DECODER_RETRY_S;
        if (u->abandoned)
            uttstate_free(u);
    } else if (j->kind == STT_JOB_FEED) {
        if (j->status != STT_ECANCELED)
            stt_hist_observe(&srv->m.job_feed, dur);
        if (j->status != 0) {
            if (j->status != STT_ECANCELED)
                srv->m.transcription_errors++;
            u->fed = u->fed_start; /* the engine dropped the utterance; start over with a new one */
        }
        if (u->abandoned) {
            utt_release(u);
        } else {
            if (j->status == 0)
                release_fed(s, u);
            handle_partial(s, u, j);
            if (u->ended)
                utt_submit_final(u);
        }
    } else {
        if (j->status != STT_ECANCELED)
            stt_hist_observe(&srv->m.job_final, dur);
        if (!u->abandoned && handle_final(s, u, j))
            ; /* kept for a retry (its handle was freed by utt_end) */
        else if (u->handle) /* cancelled before it ran: the engine still holds the utterance */
            utt_release(u);
        else
            uttstate_free(u);
    }
    stt_result_dispose(&j->result);
    free(j->pcm);
    free(j);

    if (!s->wsi) {
        if (s->jobs_out == 0)
            stt_session_detach(s); /* frees */
        return;
    }
    utt_pump(s, stt_now_s());
    if (s->drain_close && stt_session_is_idle(s))
        stt_session_close(s, 1001, "server shutting down");
}

/* An ended utterance that has waited --final_hold for a working engine: the call is told, the
 * audio freed. */
static void final_give_up(stt_session_t *s, stt_uttstate_t *u, double now)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "utterance %u not transcribed: the engine was unavailable for "
             "%.1f s after it ended (--final_hold)", u->seq, now - u->stop_wall_s);
    STT_ERROR(s->id, "final_failed", "%s", msg);
    finishing_remove(s, u);
    s->srv->m.finals_failed++;
    stt_session_send_error(s, "transcription_failed", msg);
    if (s->vad_start_pending && !s->finishing) {
        s->vad_start_pending = 0;
        send_type(s, "vad_detect_start");
    }
    utt_release(u);
}

void stt_session_tick(stt_session_t *s, double now)
{
    if (!s->wsi || !s->srv->model)
        return;
    int up = stt_server_engine_up(s->srv);
    /* Utterances that waited for a decoder, for the model, or for the engine to come back. */
    for (stt_uttstate_t *u = s->finishing, *nx; u; u = nx) {
        nx = u->next;
        if (u->inflight)
            continue;
        if (now - u->stop_wall_s >= s->srv->cfg->final_hold && !up)
            final_give_up(s, u, now);
        else if (up && now >= u->retry_at_s)
            utt_submit_final(u);
    }
    utt_pump(s, now);
}

static int release_one(stt_uttstate_t *u)
{
    if (u->inflight)
        return 1;
    if (!u->handle)
        return 0;
    u->rewind = 1;
    stt_pool_submit(u->session->srv->pool, job_new(u, STT_JOB_ABORT));
    return 1;
}

int stt_session_release_engine_state(stt_session_t *s)
{
    int held = s->cur ? release_one(s->cur) : 0;
    for (stt_uttstate_t *u = s->finishing; u; u = u->next)
        held += release_one(u);
    return held;
}

void stt_session_on_job_timeout(stt_job_t *j)
{
    stt_uttstate_t *u = j->done_data;
    stt_session_t *s = u->session;
    char msg[200];
    snprintf(msg, sizeof(msg), "the engine took longer than %.1f s on utterance %u (%s); the job "
             "was aborted and the utterance's audio is decoded again", j->timeout_s, u->seq,
             j->kind == STT_JOB_FINAL ? "final" : "partial");
    STT_ERROR(s->id, "engine_timeout", "%s", msg);
    if (s->wsi && !u->abandoned)
        stt_session_send_error(s, "engine_timeout", msg);
}

/* The watchdog retired the worker stuck in j: the engine ignored the cancel, and the job comes
 * back only when (if) that call returns. The utterance stops waiting for it: a fresh copy takes
 * its place in the session and is decoded again from the audio it still holds, as after a
 * failed job (audio an incremental engine already consumed is reported lost). The stuck job
 * keeps the old copy, emptied and abandoned, and releases it when it comes back. */
void stt_session_on_job_retired(stt_job_t *j)
{
    stt_uttstate_t *u = j->done_data;
    stt_session_t *s = u->session;
    if (u->abandoned || u->job != j)
        return; /* nobody waits for it */
    stt_uttstate_t *n = stt_malloc(sizeof(*n));
    *n = *u;
    n->handle = NULL; /* the engine's utterance is inside the stuck call */
    n->inflight = 0;
    n->job = NULL;
    n->rewind = 0;
    n->fed = n->fed_start;
    n->retry_at_s = 0;
    u->final_pcm = NULL;
    u->last_partial = NULL;
    u->speech = NULL;
    u->n_chunks = u->chunks_cap = 0;
    u->next = NULL;
    u->abandoned = 1;
    if (s->cur == u)
        s->cur = n;
    if (s->stopped == u)
        s->stopped = n;
    for (stt_uttstate_t **pp = &s->finishing; *pp; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = n;
            break;
        }
    }
    STT_WARN(s->id, "job_retired", "utterance %u: its engine call is stuck; decoding it again "
             "on another worker", n->seq);
    stt_session_tick(s, stt_now_s());
}

int stt_session_is_idle(const stt_session_t *s)
{
    return !s->cur && !s->finishing && s->jobs_out == 0;
}

double stt_session_talk_share(const stt_session_t *s)
{
    double prior = STT_TALK_PRIOR_S * 16000.0 / STT_TURN_CHUNK_SAMPLES;
    double total = s->turn ? (double)stt_turn_position(s->turn) / STT_TURN_CHUNK_SAMPLES : 0;
    if (total <= 0)
        return 0; /* a connection that sends no audio costs the engine nothing */
    return ((double)s->talk_chunks + prior) / (total + prior);
}

/* ---- audio path ---- */

/* Records the VAD decision of each chunk of the current recording (pre-roll chunks: 0), for
 * the overflow policy's "unspoken audio first". */
static void note_speech(stt_uttstate_t *u, const stt_turn_t *turn, int active)
{
    size_t held;
    stt_turn_recording(turn, &held);
    size_t chunks = (stt_turn_recording_offset(turn) + held) / STT_TURN_CHUNK_SAMPLES;
    if (chunks > u->chunks_cap) {
        size_t cap = u->chunks_cap ? u->chunks_cap : 64;
        while (cap < chunks)
            cap *= 2;
        u->speech = stt_realloc(u->speech, cap);
        u->chunks_cap = cap;
    }
    for (size_t c = u->n_chunks; c < chunks; c++)
        u->speech[c] = c + 1 == chunks ? (uint8_t)active : 0;
    if (chunks > u->n_chunks)
        u->n_chunks = chunks;
}

static void feed_16k(stt_session_t *s, const int16_t *pcm, size_t n)
{
    while (n > 0) {
        size_t take = STT_TURN_CHUNK_SAMPLES - s->chunk_fill;
        if (take > n)
            take = n;
        memcpy(s->chunk + s->chunk_fill, pcm, take * sizeof(int16_t));
        s->chunk_fill += take;
        pcm += take;
        n -= take;
        if (s->chunk_fill == STT_TURN_CHUNK_SAMPLES) {
            stt_vad_result_t v = stt_vad_process(&s->vad, s->chunk);
            int active = s->srv->cfg->silero_deactivity_detection ? v.active : v.onset;
            stt_turn_feed(s->turn, s->chunk, v.onset, active);
            s->chunk_fill = 0;
            if (s->cur) {
                s->talk_chunks++;
                note_speech(s->cur, s->turn, active);
            }
            if (!s->wsi || s->closing)
                return;
        }
    }
}

static void wav_header(FILE *f, int rate, uint32_t data_bytes)
{
    uint8_t h[44];
    uint32_t v;
    memcpy(h, "RIFF", 4);
    v = 36 + data_bytes;
    memcpy(h + 4, &v, 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    v = 16;
    memcpy(h + 16, &v, 4);
    uint16_t fmt = 1, ch = 1, bits = 16, align = 2;
    memcpy(h + 20, &fmt, 2);
    memcpy(h + 22, &ch, 2);
    v = (uint32_t)rate;
    memcpy(h + 24, &v, 4);
    v = (uint32_t)rate * 2;
    memcpy(h + 28, &v, 4);
    memcpy(h + 32, &align, 2);
    memcpy(h + 34, &bits, 2);
    memcpy(h + 36, "data", 4);
    memcpy(h + 40, &data_bytes, 4);
    fseek(f, 0, SEEK_SET);
    fwrite(h, 1, sizeof(h), f);
    fseek(f, 0, SEEK_END);
}

static void write_raw(stt_session_t *s, const stt_rtstt_frame_t *fr)
{
    const char *pattern = s->srv->cfg->write;
    if (!pattern || !pattern[0])
        return;
    if (!s->wav) {
        char path[1024];
        const char *pct = strstr(pattern, "%s");
        if (pct)
            snprintf(path, sizeof(path), "%.*s%llu%s", (int)(pct - pattern), pattern,
                     (unsigned long long)s->id, pct + 2);
        else
            snprintf(path, sizeof(path), "%s", pattern);
        s->wav = fopen(path, "wb+");
        if (!s->wav) {
            STT_WARN(s->id, "write_failed", "cannot open %s", path);
            return;
        }
        s->wav_rate = fr->sample_rate_hz; /* rate of the first chunk, as the original */
        wav_header(s->wav, s->wav_rate, 0);
    }
    fwrite(fr->pcm, 2, fr->n_samples, s->wav);
    s->wav_bytes += fr->n_samples * 2;
    wav_header(s->wav, s->wav_rate, (uint32_t)s->wav_bytes);
}

/* The RealtimeSTT clients' latency probe: a frame's metadata may carry server_sent_to_stt, the
 * sender's wall clock in ns when it sent the frame; the time from there to the frame having
 * passed the VAD is the ingest latency (DESIGN §7). Meaningful when both clocks agree (same host,
 * or NTP); a negative or implausible value (clocks apart) is left out. */
static void note_ingest_latency(stt_server_t *srv, int64_t sent_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double d = ((double)ts.tv_sec * 1e9 + (double)ts.tv_nsec - (double)sent_ns) / 1e9;
    if (d >= 0 && d < 3600)
        stt_hist_observe(&srv->m.ingest_latency, d);
}

int stt_session_on_message(stt_session_t *s, const uint8_t *buf, size_t len)
{
    stt_server_t *srv = s->srv;
    stt_frame_limits_t lim = {.max_frame_bytes = (size_t)srv->cfg->max_frame_bytes,
                              .max_metadata_bytes = STT_FRAME_MAX_METADATA_BYTES};
    stt_rtstt_frame_t fr;
    char err[256];
    stt_frame_err_t e = stt_rtstt_frame_parse(buf, len, &lim, &fr, err, sizeof(err));
    if (e != STT_FRAME_OK) {
        srv->m.frame_errors[e < 16 ? e : 15]++;
        srv->m.recorder_errors++;
        STT_WARN(s->id, "bad_frame", "%s: %s", stt_frame_err_name(e), err);
        stt_session_send_error(s, stt_frame_err_name(e), err);
        stt_session_close(s, stt_frame_err_close_code(e), err);
        return -1;
    }
    srv->m.frames_total++;
    srv->m.last_activity_s = s->last_audio_s = stt_now_s();
    srv->m.audio_seconds += (double)fr.n_samples / fr.sample_rate_hz;
    if (srv->cfg->logchunks)
        STT_DEBUG(s->id, "chunk", "%zu samples at %d Hz", fr.n_samples, fr.sample_rate_hz);
    write_raw(s, &fr);
    if (fr.n_samples == 0 || s->drain_ignore_audio)
        return 0;

    if (!s->rs) {
        s->rs = stt_resampler_create(fr.sample_rate_hz, 16000, STT_RESAMPLE_QUALITY_DEFAULT);
        if (!s->rs) {
            stt_session_send_error(s, "unsupported_sample_rate", "resampler rejected the rate");
            stt_session_close(s, 1007, "unsupported sample rate");
            return -1;
        }
    } else if (stt_resampler_input_rate(s->rs) != fr.sample_rate_hz) {
        stt_resampler_set_input_rate(s->rs, fr.sample_rate_hz);
    }
    size_t cap = stt_resampler_max_output(s->rs, fr.n_samples);
    if (cap > s->rs_out_cap) {
        s->rs_out = stt_realloc(s->rs_out, cap * sizeof(int16_t));
        s->rs_out_cap = cap;
    }
    size_t produced = 0;
    stt_resampler_process(s->rs, fr.pcm, fr.n_samples, s->rs_out, s->rs_out_cap, &produced);
    feed_16k(s, s->rs_out, produced);
    if (fr.server_sent_to_stt_ns > 0)
        note_ingest_latency(srv, fr.server_sent_to_stt_ns);
    if (s->wsi && !s->closing)
        utt_pump(s, stt_now_s());
    return s->closing ? -1 : 0;
}

int stt_session_on_fragment(stt_session_t *s, const uint8_t *in, size_t len, int final)
{
    size_t max = (size_t)s->srv->cfg->max_frame_bytes;
    if (s->rx_len + len > max) {
        char msg[160];
        snprintf(msg, sizeof(msg), "frame of more than %zu bytes exceeds the %zu-byte limit",
                 s->rx_len + len, max);
        s->srv->m.frame_errors[STT_FRAME_TOOBIG]++;
        s->srv->m.recorder_errors++;
        STT_WARN(s->id, "bad_frame", "frame_too_large: %s", msg);
        stt_session_send_error(s, "frame_too_large", msg);
        stt_session_close(s, 1009, msg);
        s->rx_len = 0;
        return -1;
    }
    if (final && s->rx_len == 0) /* common case: unfragmented, parse in place */
        return stt_session_on_message(s, in, len);
    if (s->rx_len + len > s->rx_cap) {
        size_t cap = s->rx_cap ? s->rx_cap : 8192;
        while (cap < s->rx_len + len)
            cap *= 2;
        s->rx = stt_realloc(s->rx, cap);
        s->rx_cap = cap;
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (!final)
        return 0;
    size_t n = s->rx_len;
    s->rx_len = 0;
    return stt_session_on_message(s, s->rx, n);
}

stt_session_t *stt_session_create(stt_server_t *srv, struct lws *wsi, const char *ip,
                                  const char *name)
{
    stt_session_t *s = stt_calloc(1, sizeof(*s));
    s->id = ++srv->next_session_id;
    s->srv = srv;
    s->wsi = wsi;
    snprintf(s->ip, sizeof(s->ip), "%s", ip);
    snprintf(s->name, sizeof(s->name), "%s", name ? name : "");
    s->opened_s = s->last_audio_s = stt_now_s();
    s->params = srv->cfg->sess;
    stt_vad_params_t vp = stt_vad_default_params();
    stt_vad_params_from_sensitivity(&vp, s->params.silero_sensitivity,
                                    (int)s->params.webrtc_sensitivity);
    stt_vad_init(&s->vad, &vp);
    stt_turn_params_t tp = turn_params(s);
    s->turn = stt_turn_create(&tp, turn_event, s);
    /* link */
    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    srv->n_sessions++;
    stt_turn_start(s->turn);
    return s;
}

void stt_session_detach(stt_session_t *s)
{
    stt_server_t *srv = s->srv;
    if (s->wsi) {
        s->wsi = NULL;
        stt_outq_clear(&s->out);
        s->stopped = NULL; /* it is on the finishing list, released below */
        if (s->cur) {
            stt_uttstate_t *u = s->cur;
            s->cur = NULL;
            utt_release(u);
        }
        /* Ended utterances keep running only to return their decoder; results are dropped. */
        for (stt_uttstate_t *u = s->finishing, *nx; u; u = nx) {
            nx = u->next;
            finishing_remove(s, u);
            srv->m.finals_dropped++;
            utt_release(u);
        }
        if (s->wav) {
            fclose(s->wav);
            s->wav = NULL;
        }
        /* unlink from the live list; ctl pairing is undone by the server */
        if (s->prev)
            s->prev->next = s->next;
        else
            srv->sessions = s->next;
        if (s->next)
            s->next->prev = s->prev;
        s->next = s->prev = NULL;
        srv->n_sessions--;
    }
    if (s->jobs_out > 0)
        return; /* freed by the last job's completion */
    /* Anything still listed has no job out and is abandoned. */
    for (stt_uttstate_t *u = s->finishing, *nx; u; u = nx) {
        nx = u->next;
        uttstate_free(u);
    }
    s->finishing = NULL;
    stt_turn_destroy(s->turn);
    stt_vad_dispose(&s->vad);
    stt_resampler_destroy(s->rs);
    free(s->rs_out);
    free(s->rx);
    free(s->last_utt);
    free(s);
}
