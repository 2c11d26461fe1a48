/* The stream core (stt/stream.h): one audio stream, PCM in, typed events out.
 *
 * Threads: the loop thread only. Ownership: a stream owns its decode and resample buffers, VAD,
 * turn machine and utterance states. Audio leaves the stream only inside jobs (copied, owned by
 * the job) and comes back as results through job_done, the jobs' done callback. Two-phase
 * teardown: stt_stream_close marks the stream closing (no more events), abandons its
 * utterances and frees it once every job it handed out has come back (jobs_out == 0).
 *
 * Utterances: each recording is an utt_t. While it records, FEED jobs carry new audio to the
 * engine (one in flight at a time); when it stops, the utterance waits on the `finishing` list
 * for its FINAL job (retried after failures for --final_hold). An utterance is referenced by at
 * most one job at a time and freed when its FINAL/ABORT job came back, or at once if it never
 * reached the engine.
 *
 * Finals in utterance order: with several workers, a short utterance's final job can come back
 * before a longer earlier one's (or before the earlier one's retry). Every protocol assumes a
 * stream's finals arrive in utterance order (the original server decoded one at a time), so a
 * final that comes back while an earlier utterance still waits for its own is parked: the
 * utterance keeps its place on the finishing list (still pending) holding the job's result, and
 * is delivered (FINAL or FINAL_FAILED) right after the earlier ones are (deliver_parked). */
#include "core/recognizer.h"
#include "core/stream_internal.h"

#include "stt/clock.h"
#include "stt/error.h"
#include "stt/g711.h"
#include "stt/log.h"
#include "stt/resample.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DECODER_RETRY_S 0.05
#define FINAL_RETRY_S 0.2 /* a failed final is tried again after this (breaker permitting) */

typedef struct utt {
    stt_list_t link; /* in stream->finishing */
    stt_stream_t *stream;
    uint32_t seq;
    uint64_t origin;    /* stream sample of the utterance's sample 0 (its pre-roll's start) */
    stt_utt_t *handle;  /* engine handle while no job holds it */
    int inflight;       /* a job for this utterance is with the pool */
    stt_job_t *job;     /* that job (valid until it comes back) */
    size_t fed;         /* samples already handed to the engine */
    size_t fed_start;   /* where the engine's audio begins (--engine_pre_roll) */
    int ended;          /* recording stopped: final wanted */
    int abandoned;      /* stream gone or aborted: release, no result */
    int16_t *final_pcm; /* the utterance once ended (owned): samples [final_base, final_n) */
    size_t final_base;  /* > 0 when the head was released (see release_fed) */
    size_t final_n;     /* the utterance's length */
    size_t job_end;     /* end of the audio in the FEED job out (what it acknowledges) */
    double retry_at_s;  /* no decoder free, or a failed final: retry after this time */
    int retries;        /* finals decoded again after a failure */
    int rewind;         /* an ABORT out to drop the engine state (model reload): keep the
                         * utterance and decode it again from fed_start */
    double stop_wall_s; /* monotonic time of recording_stop */
    double start_wall_s;
    int partials_sent;
    int parked;              /* final done, waiting for an earlier utterance's (see above) */
    int parked_status;       /* its job's status */
    stt_result_t parked_res; /* its job's result (owned) */
    uint8_t *speech; /* per 512-sample chunk of the recording: 1 if the VAD heard speech */
    size_t n_chunks, chunks_cap;
} utt_t;

struct stt_stream {
    stt_recognizer_t *rec;
    stt_list_t node; /* in rec->streams while open */
    stt_list_t wait_node; /* in rec->waiting while something waits for a retry (see wait_tick) */
    stt_stream_params_t p;
    stt_stream_event_cb cb;
    void *cb_data;
    stt_stream_closed_cb closed_cb;
    void *closed_data;
    int closing;
    int muted;            /* its client is gone or going: no event, finals count as dropped */
    int in_cb;            /* inside the event callback (stt_stream_close is not allowed there) */
    uint64_t pos;         /* 16 kHz samples through the turn machine */
    uint64_t talk_chunks; /* chunks received while recording (admission pricing) */
    int input_ended;      /* audio is ignored (drain, maximum duration) */
    int finish;           /* stt_stream_finish: close (finish_cb) once idle */
    stt_stream_closed_cb finish_cb;
    void *finish_data;
    int end_after_current; /* ... once the utterance recording now stops */

    /* DSP */
    int16_t *dec; /* decoded input (non-s16 formats) */
    size_t dec_cap;
    stt_resampler_t *rs;
    int16_t *rs_out;
    size_t rs_out_cap;
    int16_t chunk[STT_TURN_CHUNK_SAMPLES];
    size_t chunk_fill;
    stt_vad_t vad;
    stt_turn_t *turn;

    /* recognition */
    uint32_t utt_seq;
    utt_t *cur;          /* utterance being recorded */
    stt_list_t finishing; /* ended utterances awaiting their final, newest first */
    utt_t *stopped;      /* just stopped; UTTERANCE_END not yet delivered */
    int n_finishing;
    int jobs_out;        /* jobs with the pool */
    double last_partial_start_s;
};

static const char *const event_names[] = {
#define STT_SEV_NAME(name, str) str,
    STT_STREAM_EVENT_MAP(STT_SEV_NAME)
#undef STT_SEV_NAME
};

const char *stt_stream_event_name(stt_stream_event_kind_t kind)
{
    return (size_t)kind < sizeof(event_names) / sizeof(event_names[0]) ? event_names[kind] : "?";
}

size_t stt_pcm_sample_bytes(stt_pcm_format_t fmt)
{
    switch (fmt) {
    case STT_PCM_MULAW:
    case STT_PCM_ALAW:
        return 1;
    case STT_PCM_F32LE:
        return 4;
    default:
        return 2;
    }
}

stt_stream_t *stt_stream_of_node(stt_list_t *node)
{
    return stt_container_of(node, stt_stream_t, node);
}

stt_stream_t *stt_stream_of_wait_node(stt_list_t *node)
{
    return stt_container_of(node, stt_stream_t, wait_node);
}

/* Something of this stream waits for time to pass (a decoder, the engine, a final's retry): the
 * recognizer's tick visits it until nothing does. Streams with nothing waiting cost the tick
 * nothing, so 2,000 calls are not scanned every 50 ms. */
static void wait_tick(stt_stream_t *s)
{
    if (!s->closing && !stt_list_linked(&s->wait_node))
        stt_list_insert_tail(&s->rec->waiting, &s->wait_node);
}

/* ---- events ---- */

static void emit(stt_stream_t *s, stt_stream_event_t *ev)
{
    if (s->closing || s->muted)
        return;
    ev->finals_pending = s->n_finishing;
    s->in_cb++;
    s->cb(s->cb_data, ev);
    s->in_cb--;
}

void stt_stream_mute(stt_stream_t *s)
{
    s->muted = 1;
}

static void emit_simple(stt_stream_t *s, stt_stream_event_kind_t kind, uint32_t utt,
                        uint64_t at)
{
    stt_stream_event_t ev = {.kind = kind, .utt = utt, .start_sample = at, .end_sample = at};
    emit(s, &ev);
}

/* Audio of this call that will not be transcribed: counted (stt_audio_chunks_dropped_total),
 * logged, and an AUDIO_DROPPED event. */
static void report_dropped(stt_stream_t *s, size_t chunks, size_t speech, const char *msg)
{
    s->rec->m.chunks_dropped += chunks;
    s->rec->m.speech_chunks_dropped += speech;
    STT_WARN(s->p.log_id, "audio_dropped", "%s", msg);
    stt_stream_event_t ev = {.kind = STT_SEV_AUDIO_DROPPED,
                             .dropped_chunks = chunks,
                             .dropped_speech_chunks = speech,
                             .code = "audio_dropped",
                             .message = msg};
    emit(s, &ev);
}

void stt_stream_engine_news(stt_stream_t *s, const char *code, const char *message)
{
    stt_stream_event_t ev = {.kind = STT_SEV_ENGINE_STATE, .code = code, .message = message};
    emit(s, &ev);
}

/* ---- parameters ---- */

void stt_stream_params_from_session(stt_stream_params_t *p, const stt_session_params_t *sp)
{
    p->turn.min_length_of_recording_s = sp->min_length_of_recording;
    p->turn.min_gap_between_recordings_s = sp->min_gap_between_recordings;
    p->turn.deactivity_silence_confirmation_s = sp->deactivity_silence_confirmation_duration;
    p->turn.post_speech_silence_s = sp->post_speech_silence_duration;
    p->turn.early_transcription_on_silence_s = sp->early_transcription_on_silence;
    p->turn.pre_recording_buffer_s = sp->pre_recording_buffer_duration;
    p->silero_sensitivity = sp->silero_sensitivity;
    p->webrtc_sensitivity = (int)sp->webrtc_sensitivity;
    snprintf(p->utt.language, sizeof(p->utt.language), "%s", sp->language);
    p->utt.beam_size = (int)sp->beam_size;
    p->utt.beam_size_realtime = (int)sp->beam_size_realtime;
    p->partial_interval_s = sp->realtime_processing_pause;
    p->first_partial_after_s = sp->init_realtime_after_seconds;
}

stt_stream_params_t stt_stream_default_params(const stt_recognizer_t *rec)
{
    const stt_config_t *cfg = rec->cfg;
    stt_stream_params_t p;
    memset(&p, 0, sizeof(p));
    p.turn = stt_turn_default_params();
    p.turn.max_utterance_s = cfg->max_utterance_seconds;
    stt_stream_params_from_session(&p, &cfg->sess);
    p.partials = cfg->enable_realtime_transcription;
    p.vad_model = rec->vad_model;
    return p;
}

static stt_vad_params_t vad_params(const stt_stream_params_t *p)
{
    stt_vad_params_t vp = stt_vad_default_params();
    stt_vad_params_from_sensitivity(&vp, p->silero_sensitivity, p->webrtc_sensitivity);
    vp.silero = p->vad_model;
    return vp;
}

static void apply_params(stt_stream_t *s)
{
    stt_turn_set_params(s->turn, &s->p.turn);
    stt_vad_params_t vp = vad_params(&s->p);
    stt_vad_set_params(&s->vad, &vp);
}

void stt_stream_set_params(stt_stream_t *s, const stt_stream_params_t *p)
{
    s->p = *p;
    apply_params(s);
}

/* ---- utterances and jobs ---- */

static void job_done(stt_job_t *j, void *data);

static stt_job_t *job_new(utt_t *u, stt_job_kind_t kind)
{
    stt_stream_t *s = u->stream;
    stt_job_t *j = stt_calloc(1, sizeof(*j));
    j->kind = kind;
    j->done = job_done;
    j->done_data = u;
    j->utt_seq = u->seq;
    j->utt = u->handle;
    j->batch = s->p.batch;
    u->handle = NULL;
    j->opt = s->p.utt;
    u->inflight = 1;
    u->job = j;
    s->jobs_out++;
    s->rec->jobs_in_flight++;
    return j;
}

int stt_stream_owns_job(const stt_job_t *j)
{
    return j->done == job_done;
}

static void utt_free(utt_t *u)
{
    stt_list_remove(&u->link);
    stt_result_dispose(&u->parked_res);
    free(u->speech);
    free(u->final_pcm);
    free(u);
}

static void finishing_remove(stt_stream_t *s, utt_t *u)
{
    if (stt_list_linked(&u->link)) {
        stt_list_remove(&u->link);
        s->n_finishing--;
    }
}

/* Releases an utterance that will produce no result: hands its engine handle back through an
 * ABORT job, or frees it at once if the engine never saw it. */
static void utt_release(utt_t *u)
{
    u->abandoned = 1;
    if (u->inflight) {
        /* Finished when the job comes back; a long engine call stops early (whisper). */
        __atomic_store_n(&u->job->cancel, 1, __ATOMIC_RELAXED);
        return;
    }
    if (u->handle) {
        stt_pool_submit(u->stream->rec->pool, job_new(u, STT_JOB_ABORT));
        return;
    }
    utt_free(u);
}

static int partial_due(stt_stream_t *s, utt_t *u, double now)
{
    if (!s->p.partials || u->ended)
        return 0;
    if (stt_turn_awaiting_speech_end(s->turn))
        return 0;
    if (now - u->start_wall_s < 0)
        return 0;
    double pause = s->p.partial_interval_s;
    /* Engine queueing: fewer partials first, but never before an utterance's first one (the
     * caller is waiting to see that it was heard; it is also the urgent job of pool.h). */
    if (u->partials_sent > 0 && pause < s->rec->load.pace_s)
        pause = s->rec->load.pace_s;
    if (now - s->last_partial_start_s < pause)
        return 0;
    return 1;
}

/* 1 if the VAD heard speech in chunk c of the recording; a chunk not yet judged counts as speech. */
static int chunk_speech(const utt_t *u, size_t c)
{
    return c >= u->n_chunks || u->speech[c];
}

/* Copies the utterance's samples [from, to) into the job. With --handle_buffer_overflow, when the
 * engine has fallen further behind than --allowed_latency_limit chunks, the oldest chunks beyond
 * the limit are left out: those the VAD heard no speech in first, then speech, oldest first;
 * every dropped chunk is counted and the call is told (the original dropped silently). */
static void job_take_audio(utt_t *u, stt_job_t *j, const int16_t *held, size_t base, size_t from,
                           size_t to)
{
    const int16_t *src = held + (from - base); /* sample `from` of the utterance */
    stt_stream_t *s = u->stream;
    const stt_config_t *cfg = s->rec->cfg;
    const size_t C = STT_TURN_CHUNK_SAMPLES;
    size_t total = to - from, limit = (size_t)cfg->allowed_latency_limit * C;
    j->pcm = stt_malloc((total ? total : 1) * sizeof(int16_t));
    if (!cfg->handle_buffer_overflow || s->p.batch || total <= limit || from % C != 0) {
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
 * incrementally and the adapter does not want the utterance's audio. A stream then holds only
 * audio that is not transcribed yet, not the whole utterance (null engine, 2,000 calls: see
 * bench/README.md). */
static void release_fed(stt_stream_t *s, utt_t *u)
{
    if (u == s->cur && s->rec->engine->incremental && !s->p.keep_utterance_audio)
        stt_turn_release(s->turn, u->job_end);
}

/* The watchdog's deadline for a job: --job_timeout plus --job_timeout_per_audio_second for each
 * second of audio it decodes (an engine that is not incremental decodes the whole utterance). */
static void job_deadline(utt_t *u, stt_job_t *j, size_t end)
{
    const stt_recognizer_t *rec = u->stream->rec;
    size_t begin = rec->engine->incremental ? end - j->n_samples : u->fed_start;
    double audio_s = (double)(end > begin ? end - begin : 0) / 16000.0;
    j->timeout_s = rec->cfg->job_timeout + rec->cfg->job_timeout_per_audio_second * audio_s;
}

/* A failed job lost the engine's state of an utterance whose audio [fed_start, base) was already
 * released (incremental engines free what they consumed): that audio cannot be decoded again.
 * It is counted like --handle_buffer_overflow's drops and the call is told. */
static void note_lost_audio(utt_t *u, size_t base)
{
    stt_stream_t *s = u->stream;
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
static size_t engine_end(const utt_t *u, size_t n)
{
    double post = u->stream->rec->cfg->engine_post_roll;
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

/* Hands the audio recorded since the last job to the engine, if no job for this utterance is
 * out. */
static void utt_pump(stt_stream_t *s, double now)
{
    utt_t *u = s->cur;
    if (!u || u->inflight || u->ended)
        return;
    if (now < u->retry_at_s || !stt_recognizer_engine_up(s->rec)) {
        wait_tick(s);
        return;
    }
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
    stt_pool_submit(s->rec->pool, j);
}

static void utt_submit_final(utt_t *u)
{
    stt_stream_t *s = u->stream;
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
    stt_pool_submit(s->rec->pool, j);
}

static void on_recording_start(stt_stream_t *s)
{
    if (s->cur) /* cannot happen: a stop always precedes a start */
        utt_release(s->cur);
    utt_t *u = stt_calloc(1, sizeof(*u));
    stt_list_init(&u->link);
    u->stream = s;
    u->seq = ++s->utt_seq;
    u->start_wall_s = stt_now_s();
    s->cur = u;
    s->rec->m.utterances++;
    size_t n = 0;
    stt_turn_recording(s->turn, &n);
    u->origin = s->pos >= n ? s->pos - n : 0;
    /* The engine decodes only the end of the pre-roll (--engine_pre_roll): whole chunks, so the
     * speech flags of --handle_buffer_overflow stay aligned. */
    double keep_s = s->rec->cfg->engine_pre_roll;
    if (keep_s >= 0 && n > STT_TURN_CHUNK_SAMPLES) {
        size_t pre = n - STT_TURN_CHUNK_SAMPLES; /* the last chunk confirmed the onset */
        size_t keep =
            (size_t)(keep_s * 16000.0 / STT_TURN_CHUNK_SAMPLES + 0.5) * STT_TURN_CHUNK_SAMPLES;
        u->fed = u->fed_start = pre > keep ? pre - keep : 0;
    }
    STT_DEBUG(s->p.log_id, "recording_start", "utterance %u", u->seq);
}

/* recording_stop: the utterance is taken at once, but UTTERANCE_END and the final job wait
 * until the machine has emitted its end-of-turn events, so that every protocol sees the order
 * recording_stop, speech_resume, utterance_end, final, listening (the original's). */
static void on_recording_stop(stt_stream_t *s)
{
    utt_t *u = s->cur;
    s->cur = NULL;
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
    stt_list_insert_head(&s->finishing, &u->link);
    s->n_finishing++;
    s->stopped = u;
}

/* Delivers UTTERANCE_END and submits the final of the utterance that just stopped. */
static void flush_stopped(stt_stream_t *s)
{
    utt_t *u = s->stopped;
    if (!u)
        return;
    s->stopped = NULL;
    /* Released audio is gone: the event then carries no audio. */
    stt_stream_event_t ev = {.kind = STT_SEV_UTTERANCE_END,
                             .utt = u->seq,
                             .start_sample = u->origin,
                             .end_sample = u->origin + u->final_n,
                             .pcm = u->final_base ? NULL : u->final_pcm,
                             .n_samples = u->final_base ? 0 : u->final_n};
    emit(s, &ev);
    STT_DEBUG(s->p.log_id, "recording_stop", "utterance %u: %.2f s", u->seq,
              (double)u->final_n / 16000.0);
    if (u->abandoned)
        return;
    if (!u->inflight && stt_recognizer_engine_up(s->rec)) {
        utt_submit_final(u);
    } else if (!u->inflight) {
        wait_tick(s); /* the engine is down: the tick submits it when it is back */
    } else if (u->inflight && u->job->kind == STT_JOB_FEED) {
        /* The final would wait for this feed: if the feed still waits for a worker and carries
         * everything the final needs, it becomes the final; otherwise it goes first. */
        if (u->fed < engine_end(u, u->final_n) ||
            !stt_pool_convert_to_final(s->rec->pool, u->job))
            stt_pool_expedite(s->rec->pool, u->job);
    }
}

static const stt_stream_event_kind_t turn_kinds[] = {
    [STT_TEV_VAD_DETECT_START] = STT_SEV_LISTENING,
    [STT_TEV_VAD_DETECT_STOP] = STT_SEV_SPEECH_START,
    [STT_TEV_RECORDING_START] = STT_SEV_RECORDING_START,
    [STT_TEV_START_TURN_DETECTION] = STT_SEV_SPEECH_PAUSE,
    [STT_TEV_STOP_TURN_DETECTION] = STT_SEV_SPEECH_RESUME,
    [STT_TEV_RECORDING_STOP] = STT_SEV_RECORDING_STOP,
};

static void turn_event(void *data, stt_turn_event_t tev, uint64_t at_sample)
{
    stt_stream_t *s = data;
    uint32_t utt = s->cur ? s->cur->seq : 0;
    switch (tev) {
    case STT_TEV_EARLY_TRANSCRIPTION:
        return; /* incremental engines need no speculative final */
    case STT_TEV_VAD_DETECT_START:
        flush_stopped(s);
        break;
    case STT_TEV_START_TURN_DETECTION:
        /* Speech ended: the final will wait for the feed in the queue, so it goes first. */
        if (s->cur && s->cur->inflight && s->cur->job->kind == STT_JOB_FEED)
            stt_pool_expedite(s->rec->pool, s->cur->job);
        break;
    case STT_TEV_RECORDING_START:
        on_recording_start(s);
        utt = s->cur->seq;
        break;
    default:
        break;
    }
    emit_simple(s, turn_kinds[tev], utt, at_sample);
    if (tev == STT_TEV_RECORDING_STOP) {
        on_recording_stop(s);
        /* Draining: the utterance in progress was the last one; later audio is not recorded. */
        if (s->end_after_current)
            s->input_ended = 1;
    }
}

static void handle_partial(stt_stream_t *s, utt_t *u, stt_job_t *j)
{
    if (!j->want_partial || !j->result.text || u != s->cur || u->ended)
        return;
    double elapsed = stt_now_s() - u->start_wall_s;
    if (elapsed < s->p.first_partial_after_s)
        return;
    stt_stream_event_t ev = {.kind = STT_SEV_PARTIAL,
                             .utt = u->seq,
                             .start_sample = u->origin + u->fed_start,
                             .end_sample = u->origin + u->job_end,
                             .result = &j->result,
                             .elapsed_s = elapsed};
    emit(s, &ev);
}

void stt_stream_partial_delivered(stt_stream_t *s, uint32_t utt, double elapsed_s)
{
    utt_t *u = s->cur;
    if (!u || u->seq != utt)
        return;
    if (u->partials_sent++ == 0)
        stt_hist_observe(&s->rec->m.first_partial_latency, elapsed_s);
    s->rec->m.partials_sent++;
}

/* A final that failed (engine error, watchdog timeout) is decoded again from the audio the
 * utterance still holds, as long as it ended less than --final_hold ago: during an outage the
 * breaker holds it until the engine is back. Returns 1 when it will be retried. */
static int final_retry(stt_stream_t *s, utt_t *u, const stt_job_t *j)
{
    double now = stt_now_s();
    if (s->closing || s->muted || j->status == STT_ECANCELED ||
        now - u->stop_wall_s >= s->rec->cfg->final_hold)
        return 0;
    u->fed = u->fed_start;
    u->retry_at_s = now + FINAL_RETRY_S;
    wait_tick(s);
    u->retries++;
    s->rec->m.finals_retried++;
    STT_WARN(s->p.log_id, "final_retry", "utterance %u: %s; decoding it again (retry %d, %.1f s "
             "after it ended)", u->seq, stt_strerror(j->status), u->retries,
             now - u->stop_wall_s);
    return 1;
}

static void emit_final_failed(stt_stream_t *s, utt_t *u, int status, const char *msg)
{
    stt_stream_event_t ev = {.kind = STT_SEV_FINAL_FAILED,
                             .utt = u->seq,
                             .start_sample = u->origin,
                             .end_sample = u->origin + u->final_n,
                             .status = status,
                             .code = "transcription_failed",
                             .message = msg};
    emit(s, &ev);
}

/* Delivers an utterance's final outcome and takes it off the finishing list: FINAL_FAILED when
 * status != 0, else FINAL with `result` (dropped when the client is gone). final_latency runs from
 * the end of the utterance to this delivery, so it includes any wait for an earlier final. */
static void final_deliver(stt_stream_t *s, utt_t *u, int status, const stt_result_t *result)
{
    stt_metrics_t *m = &s->rec->m;
    finishing_remove(s, u);
    if (status != 0) {
        m->finals_failed++;
        STT_ERROR(s->p.log_id, "final_failed", "utterance %u: %s", u->seq, stt_strerror(status));
        emit_final_failed(s, u, status, stt_strerror(status));
        return;
    }
    if (s->closing || s->muted) { /* the client is gone or being closed */
        m->finals_dropped++;
        return;
    }
    stt_hist_observe(&m->final_latency, stt_now_s() - u->stop_wall_s);
    m->finals_sent++;
    stt_stream_event_t ev = {.kind = STT_SEV_FINAL,
                             .utt = u->seq,
                             .start_sample = u->origin + u->fed_start,
                             .end_sample = u->origin + u->final_n,
                             .result = result,
                             .pcm = u->final_base ? NULL : u->final_pcm,
                             .n_samples = u->final_base ? 0 : u->final_n};
    emit(s, &ev);
    STT_INFO(s->p.log_id, "final", "utterance %u: %zu chars, %.2f s audio", u->seq,
             result->text ? strlen(result->text) : 0, (double)u->final_n / 16000.0);
}

/* 1 while an utterance older than u still waits for its final (the list runs newest first). */
static int earlier_final_pending(const stt_stream_t *s, const utt_t *u)
{
    return s->finishing.prev != &u->link;
}

/* Delivers the parked finals whose earlier utterances are all delivered, oldest first. */
static void deliver_parked(stt_stream_t *s)
{
    while (!stt_list_empty(&s->finishing)) {
        utt_t *u = stt_container_of(s->finishing.prev, utt_t, link);
        if (!u->parked)
            return;
        final_deliver(s, u, u->parked_status, &u->parked_res);
        utt_free(u);
    }
}

/* Returns 1 when the utterance stays (its final will be retried, or waits for an earlier one:
 * parked, the result taken from the job), 0 when it is done. */
static int handle_final(stt_stream_t *s, utt_t *u, stt_job_t *j)
{
    if (j->status != 0 && j->status != STT_ECANCELED)
        s->rec->m.transcription_errors++;
    if (j->status != 0 && final_retry(s, u, j))
        return 1;
    if (earlier_final_pending(s, u)) {
        u->parked = 1;
        u->parked_status = j->status;
        u->parked_res = j->result;
        memset(&j->result, 0, sizeof(j->result));
        return 1;
    }
    final_deliver(s, u, j->status, &j->result);
    return 0;
}

static void stream_free(stt_stream_t *s);

/* Input ended and nothing is outstanding: IDLE, and a stream being finished closes. Not from
 * inside the stream's callback (the close may free it). */
static void check_idle(stt_stream_t *s)
{
    if (s->closing || !s->input_ended || !stt_stream_idle(s))
        return;
    emit_simple(s, STT_SEV_IDLE, 0, s->pos);
    if (s->finish && !s->closing)
        stt_stream_close(s, s->finish_cb, s->finish_data);
}

static void job_done(stt_job_t *j, void *data)
{
    utt_t *u = data;
    stt_stream_t *s = u->stream;
    stt_recognizer_t *rec = s->rec;
    s->jobs_out--;
    rec->jobs_in_flight--;
    u->inflight = 0;
    u->job = NULL;
    STT_DEBUG(s->p.log_id, "job_done",
              "kind %d utt %u: %zu samples, waited %.1f ms, ran %.1f ms, rc %d", (int)j->kind,
              u->seq, j->n_samples, 1e3 * (j->started_s - j->submitted_s),
              1e3 * stt_job_engine_s(j), j->status);
    u->handle = j->utt;
    double dur = stt_job_engine_s(j);
    if (j->status == STT_ECANCELED && j->started_s > 0)
        rec->m.jobs_cancelled++; /* stopped early: its stream went away (not an error) */
    if (j->kind != STT_JOB_ABORT && j->status != STT_EBUSY && j->status != STT_ECANCELED)
        stt_recognizer_job_outcome(rec, j->status);

    if (j->kind == STT_JOB_ABORT) {
        if (u->rewind && !u->abandoned) {
            u->rewind = 0;
            u->fed = u->fed_start; /* decoded again by the reloaded model */
            wait_tick(s);
        } else {
            utt_free(u);
        }
    } else if (j->status == STT_EBUSY) {
        /* No decoder free: nothing was decoded; rewind and retry shortly. */
        rec->m.decoder_waits++;
        u->fed = u->fed_start;
        u->retry_at_s = stt_now_s() + DECODER_RETRY_S;
        wait_tick(s);
        if (u->abandoned)
            utt_free(u);
    } else if (j->kind == STT_JOB_FEED) {
        if (j->status != STT_ECANCELED)
            stt_hist_observe(&rec->m.job_feed, dur);
        if (j->status != 0) {
            if (j->status != STT_ECANCELED)
                rec->m.transcription_errors++;
            u->fed = u->fed_start; /* the engine dropped the utterance; start over with a new one */
        }
        if (u->abandoned) {
            utt_release(u);
        } else {
            if (j->status == 0)
                release_fed(s, u);
            handle_partial(s, u, j);
            if (u->ended && !u->inflight && !u->abandoned)
                utt_submit_final(u);
        }
    } else {
        if (j->status != STT_ECANCELED)
            stt_hist_observe(&rec->m.job_final, dur);
        if (!u->abandoned && handle_final(s, u, j))
            ; /* kept for a retry or parked (its handle was freed by utt_end) */
        else if (u->handle) /* cancelled before it ran: the engine still holds the utterance */
            utt_release(u);
        else
            utt_free(u);
        if (!s->closing)
            deliver_parked(s); /* u was the oldest: the finals that waited for it */
    }
    stt_result_dispose(&j->result);
    free(j->pcm);
    free(j);

    if (s->closing) {
        if (s->jobs_out == 0)
            stream_free(s);
        return;
    }
    utt_pump(s, stt_now_s());
    check_idle(s);
}

/* An ended utterance that has waited --final_hold for a working engine: the call is told, the
 * audio freed. */
static void final_give_up(stt_stream_t *s, utt_t *u, double now)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "utterance %u not transcribed: the engine was unavailable for "
             "%.1f s after it ended (--final_hold)", u->seq, now - u->stop_wall_s);
    STT_ERROR(s->p.log_id, "final_failed", "%s", msg);
    finishing_remove(s, u);
    s->rec->m.finals_failed++;
    emit_final_failed(s, u, STT_EENGINE, msg);
    utt_release(u);
}

void stt_stream_tick(stt_stream_t *s, double now)
{
    stt_list_remove(&s->wait_node); /* back on the list below if something still waits */
    if (s->closing)
        return;
    if (!s->rec->model) {
        wait_tick(s);
        return;
    }
    int up = stt_recognizer_engine_up(s->rec);
    /* Utterances that waited for a decoder, for the model, or for the engine to come back,
     * oldest first. Only the oldest is given up (finals go out in utterance order): a later one
     * waits until the earlier ones are delivered. */
    stt_list_t *n, *prev;
    for (n = s->finishing.prev; n != &s->finishing; n = prev) {
        prev = n->prev;
        utt_t *u = stt_container_of(n, utt_t, link);
        if (u->inflight || u->parked || u == s->stopped)
            continue;
        if (now - u->stop_wall_s >= s->rec->cfg->final_hold && !up) {
            if (earlier_final_pending(s, u)) {
                wait_tick(s);
                continue;
            }
            final_give_up(s, u, now);
            deliver_parked(s);
            prev = s->finishing.prev; /* the oldest left (deliver_parked may free `prev`) */
        } else if (up && now >= u->retry_at_s) {
            utt_submit_final(u);
        } else {
            wait_tick(s);
        }
    }
    utt_pump(s, now);
    check_idle(s); /* a final given up may have been the last thing a finishing stream awaited */
}

static int release_one(utt_t *u)
{
    if (u->inflight)
        return 1;
    if (!u->handle)
        return 0;
    u->rewind = 1;
    stt_pool_submit(u->stream->rec->pool, job_new(u, STT_JOB_ABORT));
    return 1;
}

int stt_stream_release_engine_state(stt_stream_t *s)
{
    int held = s->cur ? release_one(s->cur) : 0;
    stt_list_t *n;
    stt_list_foreach(n, &s->finishing)
        held += release_one(stt_container_of(n, utt_t, link));
    return held;
}

long stt_stream_engine_handles(const stt_stream_t *s)
{
    long handles = s->cur && s->cur->handle;
    const stt_list_t *n;
    stt_list_foreach(n, &s->finishing)
        handles += stt_container_of(n, const utt_t, link)->handle != NULL;
    return handles;
}

void stt_stream_job_timeout(stt_job_t *j)
{
    utt_t *u = j->done_data;
    stt_stream_t *s = u->stream;
    char msg[200];
    snprintf(msg, sizeof(msg), "the engine took longer than %.1f s on utterance %u (%s); the job "
             "was aborted and the utterance's audio is decoded again", j->timeout_s, u->seq,
             j->kind == STT_JOB_FINAL ? "final" : "partial");
    STT_ERROR(s->p.log_id, "engine_timeout", "%s", msg);
    if (!u->abandoned) {
        stt_stream_event_t ev = {.kind = STT_SEV_ENGINE_STATE,
                                 .utt = u->seq,
                                 .code = "engine_timeout",
                                 .message = msg};
        emit(s, &ev);
    }
}

/* The watchdog retired the worker stuck in j: the engine ignored the cancel, and the job comes
 * back only when (if) that call returns. The utterance stops waiting for it: a fresh copy takes
 * its place in the stream and is decoded again from the audio it still holds, as after a failed
 * job (audio an incremental engine already consumed is reported lost). The stuck job keeps the
 * old copy, emptied and abandoned, and releases it when it comes back. */
void stt_stream_job_retired(stt_job_t *j)
{
    utt_t *u = j->done_data;
    stt_stream_t *s = u->stream;
    if (u->abandoned || u->job != j)
        return; /* nobody waits for it */
    utt_t *n = stt_malloc(sizeof(*n));
    *n = *u;
    n->handle = NULL; /* the engine's utterance is inside the stuck call */
    n->inflight = 0;
    n->job = NULL;
    n->rewind = 0;
    n->fed = n->fed_start;
    n->retry_at_s = 0;
    stt_list_init(&n->link);
    if (stt_list_linked(&u->link)) { /* take u's place in the finishing list */
        stt_list_insert_tail(&u->link, &n->link);
        stt_list_remove(&u->link);
    }
    u->final_pcm = NULL;
    u->speech = NULL;
    u->n_chunks = u->chunks_cap = 0;
    u->abandoned = 1;
    if (s->cur == u)
        s->cur = n;
    if (s->stopped == u)
        s->stopped = n;
    STT_WARN(s->p.log_id, "job_retired", "utterance %u: its engine call is stuck; decoding it "
             "again on another worker", n->seq);
    stt_stream_tick(s, stt_now_s());
}

int stt_stream_idle(const stt_stream_t *s)
{
    return !s->cur && stt_list_empty(&s->finishing) && s->jobs_out == 0;
}

int stt_stream_recording(const stt_stream_t *s)
{
    return stt_turn_state(s->turn) == STT_TURN_RECORDING;
}

int stt_stream_finals_pending(const stt_stream_t *s)
{
    return s->n_finishing;
}

uint64_t stt_stream_position(const stt_stream_t *s)
{
    return s->pos + s->chunk_fill;
}

double stt_stream_talk_share(const stt_stream_t *s)
{
    double prior = STT_TALK_PRIOR_S * 16000.0 / STT_TURN_CHUNK_SAMPLES;
    double total = (double)stt_turn_position(s->turn) / STT_TURN_CHUNK_SAMPLES;
    if (total <= 0)
        return 0; /* a stream that sends no audio costs the engine nothing */
    return ((double)s->talk_chunks + prior) / (total + prior);
}

size_t stt_stream_backlog_samples(const stt_stream_t *s)
{
    size_t n = 0;
    if (s->cur) {
        size_t held;
        stt_turn_recording(s->turn, &held);
        size_t end = stt_turn_recording_offset(s->turn) + held;
        n += end > s->cur->fed ? end - s->cur->fed : 0;
    }
    const stt_list_t *l;
    stt_list_foreach(l, &s->finishing) {
        const utt_t *u = stt_container_of(l, const utt_t, link);
        if (u->parked)
            continue; /* decoded, waiting for an earlier final */
        n += u->final_n > u->fed ? u->final_n - u->fed : 0;
        if (u->inflight && u->job)
            n += u->job->n_samples;
    }
    return n;
}

/* ---- control ---- */

int stt_stream_finalize(stt_stream_t *s, int force)
{
    return force ? stt_turn_stop_now(s->turn) : stt_turn_stop(s->turn);
}

int stt_stream_abort(stt_stream_t *s)
{
    return stt_turn_abort(s->turn);
}

void stt_stream_clear(stt_stream_t *s)
{
    stt_turn_clear_preroll(s->turn);
    s->chunk_fill = 0;
}

void stt_stream_end_input(stt_stream_t *s, int after_current)
{
    if (after_current)
        s->end_after_current = 1; /* input ends at the next recording_stop */
    else
        s->input_ended = 1;
}

/* ---- audio path ---- */

/* Records the VAD decision of each chunk of the current recording (pre-roll chunks: 0), for
 * the overflow policy's "unspoken audio first". */
static void note_speech(utt_t *u, const stt_turn_t *turn, int active)
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

static void feed_16k(stt_stream_t *s, const int16_t *pcm, size_t n)
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
            /* --no-silero_deactivity_detection: the end of speech is the energy detector's loose
             * test (WebRTC's role in the original), whichever detector finds the onset. */
            int active = s->rec->cfg->silero_deactivity_detection ? v.active : v.energy_onset;
            s->pos += STT_TURN_CHUNK_SAMPLES;
            stt_turn_feed(s->turn, s->chunk, v.onset, active);
            s->chunk_fill = 0;
            if (s->cur) {
                s->talk_chunks++;
                note_speech(s->cur, s->turn, active);
            }
            if (s->closing || s->input_ended)
                return;
        }
    }
}

/* The input as 16-bit samples: in place for s16le, else decoded into s->dec. */
static const int16_t *decode(stt_stream_t *s, stt_pcm_format_t fmt, const void *bytes, size_t n)
{
    if (fmt == STT_PCM_S16LE)
        return bytes;
    if (n > s->dec_cap) {
        s->dec = stt_realloc(s->dec, n * sizeof(int16_t));
        s->dec_cap = n;
    }
    const uint8_t *b = bytes;
    if (fmt == STT_PCM_MULAW) {
        stt_g711_mulaw_decode(b, n, s->dec);
    } else if (fmt == STT_PCM_ALAW) {
        stt_g711_alaw_decode(b, n, s->dec);
    } else {
        for (size_t i = 0; i < n; i++) {
            float f;
            memcpy(&f, b + 4 * i, 4);
            float v = f * 32768.0f;
            s->dec[i] = v >= 32767.0f ? 32767 : v <= -32768.0f ? -32768 : (int16_t)v;
        }
    }
    return s->dec;
}

int stt_stream_feed(stt_stream_t *s, stt_pcm_format_t fmt, int rate_hz, const void *bytes,
                    size_t n_samples)
{
    if (s->closing)
        return STT_ECANCELED;
    if (n_samples == 0 || s->input_ended)
        return 0;
    if (!s->rs) {
        s->rs = stt_resampler_create(rate_hz, 16000, STT_RESAMPLE_QUALITY_DEFAULT);
        if (!s->rs)
            return STT_EINVAL;
    } else if (stt_resampler_input_rate(s->rs) != rate_hz) {
        if (stt_resampler_set_input_rate(s->rs, rate_hz) != 0)
            return STT_EINVAL;
    }
    const int16_t *pcm = decode(s, fmt, bytes, n_samples);
    size_t cap = stt_resampler_max_output(s->rs, n_samples);
    if (cap > s->rs_out_cap) {
        s->rs_out = stt_realloc(s->rs_out, cap * sizeof(int16_t));
        s->rs_out_cap = cap;
    }
    size_t produced = 0;
    stt_resampler_process(s->rs, (const uint8_t *)pcm, n_samples, s->rs_out, s->rs_out_cap, &produced);
    feed_16k(s, s->rs_out, produced);
    if (!s->closing)
        utt_pump(s, stt_now_s());
    return 0;
}

/* ---- lifecycle ---- */

stt_stream_t *stt_stream_create(stt_recognizer_t *rec, const stt_stream_params_t *p,
                                stt_stream_event_cb cb, void *cb_data)
{
    stt_stream_t *s = stt_calloc(1, sizeof(*s));
    s->rec = rec;
    s->p = *p;
    s->cb = cb;
    s->cb_data = cb_data;
    stt_list_init(&s->finishing);
    stt_list_init(&s->wait_node);
    stt_vad_params_t vp = vad_params(p);
    stt_vad_init(&s->vad, &vp);
    s->turn = stt_turn_create(&s->p.turn, turn_event, s);
    stt_list_insert_tail(&rec->streams, &s->node);
    rec->n_streams++;
    stt_turn_start(s->turn);
    return s;
}

static void stream_free(stt_stream_t *s)
{
    /* Anything still listed has no job out and is abandoned. */
    stt_list_t *n, *nx;
    stt_list_foreach_safe(n, nx, &s->finishing)
        utt_free(stt_container_of(n, utt_t, link));
    stt_turn_destroy(s->turn);
    stt_vad_dispose(&s->vad);
    stt_resampler_destroy(s->rs);
    free(s->rs_out);
    free(s->dec);
    stt_stream_closed_cb cb = s->closed_cb;
    void *data = s->closed_data;
    free(s);
    if (cb)
        cb(data);
}

void stt_stream_finish(stt_stream_t *s, stt_stream_closed_cb closed_cb, void *data)
{
    if (!s || s->closing || s->finish)
        return;
    if (s->in_cb)
        stt_fatal(__FILE__, __LINE__, "stt_stream_finish called from the stream's own callback");
    s->finish = 1;
    s->finish_cb = closed_cb;
    s->finish_data = data;
    stt_turn_stop_now(s->turn); /* the utterance recording now ends, however short */
    s->input_ended = 1;
    if (!s->closing)
        utt_pump(s, stt_now_s());
    check_idle(s);
}

int stt_stream_cut_finish(stt_stream_t *s)
{
    if (!s->finish || s->closing)
        return 0;
    STT_WARN(s->p.log_id, "finish_cut", "shutting down: %d final(s) of a finished call not "
             "delivered", s->n_finishing);
    stt_stream_close(s, s->finish_cb, s->finish_data);
    return 1;
}

void stt_stream_close(stt_stream_t *s, stt_stream_closed_cb closed_cb, void *data)
{
    if (!s || s->closing)
        return;
    /* From inside its own callback the stream would be freed under the caller's feet. */
    if (s->in_cb)
        stt_fatal(__FILE__, __LINE__, "stt_stream_close called from the stream's own callback");
    s->closing = 1;
    s->closed_cb = closed_cb;
    s->closed_data = data;
    stt_list_remove(&s->node);
    stt_list_remove(&s->wait_node);
    s->rec->n_streams--;
    s->stopped = NULL; /* it is on the finishing list, released below */
    if (s->cur) {
        utt_t *u = s->cur;
        s->cur = NULL;
        utt_release(u);
    }
    /* Ended utterances keep running only to return their decoder; results are dropped. */
    stt_list_t *n, *nx;
    stt_list_foreach_safe(n, nx, &s->finishing) {
        utt_t *u = stt_container_of(n, utt_t, link);
        finishing_remove(s, u);
        s->rec->m.finals_dropped++;
        utt_release(u);
    }
    if (s->jobs_out == 0)
        stream_free(s);
}
