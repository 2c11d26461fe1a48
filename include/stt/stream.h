/* The stream core: one audio stream of a call (one track, one channel), protocol-agnostic.
 *
 * PCM goes in (s16le, mu-law, A-law or f32le at any rate from 8 to 48 kHz); typed events come out
 * through the callback given at creation, carrying stream-time positions (16 kHz samples since
 * the stream began) and the engine's raw result. A stream knows nothing of sockets, wire formats
 * or JSON: an adapter in src/server/adapters turns its events into a protocol's messages (or a
 * sink sends them out-of-band).
 *
 * Pipeline: decode -> resample to 16 kHz (stateful) -> 512-sample chunks -> VAD -> turn machine
 * -> utterances -> engine jobs (through the recognizer's worker pool) -> events. While an
 * utterance records, new audio goes to the engine in FEED jobs, at most one in flight per
 * utterance, so audio that arrives meanwhile accumulates and the next job carries all of it.
 *
 * Threads: the loop thread only (the one that runs the recognizer's dispatch). Ownership: a
 * stream owns its resampler, VAD, turn machine and utterance states; audio leaves it only inside
 * jobs (copied, owned by the job). Every pointer in an event is borrowed for the duration of the
 * callback. Two-phase teardown: stt_stream_close() -> every job comes back -> closed_cb -> freed.
 * No event is delivered once stt_stream_close() was called. */
#ifndef STT_STREAM_H
#define STT_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "stt/engine.h"
#include "stt/pcm.h" /* stt_pcm_format_t */
#include "stt/turn.h"
#include "stt/vad.h"

typedef struct stt_stream stt_stream_t;
typedef struct stt_recognizer stt_recognizer_t; /* src/core/recognizer.h: pool, breaker, model */

/* Bytes per sample of a format. */
size_t stt_pcm_sample_bytes(stt_pcm_format_t fmt);

#define STT_STREAM_EVENT_MAP(XX)                                                                 \
    XX(LISTENING, "listening")           /* waiting for voice (rtstt vad_detect_start) */        \
    XX(SPEECH_START, "speech_start")     /* onset confirmed (rtstt vad_detect_stop) */            \
    XX(RECORDING_START, "recording_start") /* an utterance begins (its `utt` number) */           \
    XX(SPEECH_PAUSE, "speech_pause")     /* silence after speech: end-of-turn timing runs */      \
    XX(SPEECH_RESUME, "speech_resume")   /* speech again, or the turn ended */                    \
    XX(RECORDING_STOP, "recording_stop") /* the utterance's audio is complete */                  \
    XX(UTTERANCE_END, "utterance_end")   /* its final is on its way; pcm = its audio */           \
    XX(PARTIAL, "partial")               /* result = a new partial hypothesis */                  \
    XX(FINAL, "final")                   /* result = the final; pcm = the audio when held;       \
                                          * FINAL/FINAL_FAILED come in utterance order */         \
    XX(FINAL_FAILED, "final_failed")     /* no final for `utt`: status, message */                \
    XX(AUDIO_DROPPED, "audio_dropped")   /* audio that will not be transcribed: counts, message */\
    XX(ENGINE_STATE, "engine_state")     /* code: engine_unavailable|engine_recovered|           \
                                          * engine_timeout; message */                            \
    XX(IDLE, "idle")                     /* no utterance recording or pending: may close now */

typedef enum {
#define STT_SEV_ENUM(name, str) STT_SEV_##name,
    STT_STREAM_EVENT_MAP(STT_SEV_ENUM)
#undef STT_SEV_ENUM
} stt_stream_event_kind_t;

const char *stt_stream_event_name(stt_stream_event_kind_t kind);

typedef struct {
    stt_stream_event_kind_t kind;
    uint32_t utt; /* utterance number (1, 2, ...); 0 for stream-wide events */
    /* Stream time in 16 kHz samples: the event's position (turn events); for PARTIAL/FINAL the
     * first sample the engine decoded (engine times, e.g. word start_s, count from here) and the
     * end of the audio the result covers; for UTTERANCE_END the utterance's audio. */
    uint64_t start_sample, end_sample;
    const stt_result_t *result; /* PARTIAL, FINAL */
    const int16_t *pcm;         /* UTTERANCE_END, FINAL: the utterance (NULL once released) */
    size_t n_samples;
    int status;                 /* FINAL_FAILED: STT_E* */
    size_t dropped_chunks, dropped_speech_chunks; /* AUDIO_DROPPED: 512-sample chunks */
    int finals_pending;         /* utterances still waiting for their final after this event */
    double elapsed_s;           /* PARTIAL: seconds since the utterance began (wall clock) */
    const char *code;           /* ENGINE_STATE, FINAL_FAILED: a machine-readable code */
    const char *message;        /* human-readable */
} stt_stream_event_t;

typedef void (*stt_stream_event_cb)(void *data, const stt_stream_event_t *ev);
typedef void (*stt_stream_closed_cb)(void *data);

typedef struct {
    stt_turn_params_t turn;      /* endpointing (rtstt post_speech_silence_duration, ...) */
    double silero_sensitivity;   /* VAD sensitivity, 0..1 (stt_vad_params_from_sensitivity) */
    int webrtc_sensitivity;      /* 0..3 */
    const stt_silero_model_t *vad_model; /* --vad silero: the shared model (borrowed from the
                                          * recognizer), else NULL; fixed for a stream's life */
    stt_utt_options_t utt;       /* language, beam sizes (captured per utterance) */
    int partials;                /* 0: finals only */
    double partial_interval_s;   /* minimum spacing of partial passes */
    double first_partial_after_s; /* no partial before the utterance is this old */
    int keep_utterance_audio;    /* the adapter wants each utterance's audio (UTTERANCE_END/FINAL
                                  * pcm): fed audio is then never released early */
    int batch;                   /* engine jobs in the batch class (file uploads) */
    uint64_t log_id;             /* the id in log lines */
} stt_stream_params_t;

/* The server-wide defaults (--post_speech_silence_duration, ... of the configuration). */
stt_stream_params_t stt_stream_default_params(const stt_recognizer_t *rec);

/* Overwrites what the per-session parameter set (the configuration's session-scope options,
 * which RealtimeSTT's set_parameter changes) decides: endpointing, VAD sensitivity, utterance
 * options, partial pacing. */
void stt_stream_params_from_session(stt_stream_params_t *p, const stt_session_params_t *sp);

/* Creates a stream registered with the recognizer. cb is called on the loop thread for every
 * event until stt_stream_close. */
stt_stream_t *stt_stream_create(stt_recognizer_t *rec, const stt_stream_params_t *p,
                                stt_stream_event_cb cb, void *cb_data);

/* Decodes n_samples samples of `fmt` at rate_hz (8,000..192,000), resamples them to 16 kHz and
 * runs them through VAD and turn machine; events are delivered from inside this call. Returns 0,
 * or STT_EINVAL for a rate the resampler refuses. Audio after stt_stream_end_input is counted
 * and ignored. */
int stt_stream_feed(stt_stream_t *s, stt_pcm_format_t fmt, int rate_hz, const void *bytes,
                    size_t n_samples);

/* The adapter delivered the PARTIAL of utterance `utt` to its client (adapters drop repeats of
 * the text they already sent): counts it, and times the utterance's first partial (elapsed_s
 * from the event). Partials the client saw also lower the utterance's scheduling class. */
void stt_stream_partial_delivered(stt_stream_t *s, uint32_t utt, double elapsed_s);

/* New parameters; a recording in progress keeps its utterance options. */
void stt_stream_set_params(stt_stream_t *s, const stt_stream_params_t *p);

/* Ends the current utterance now so its final is produced (rtstt `stop`: force 0 respects
 * min_length_of_recording and returns STT_EBUSY when too short; Deepgram Finalize, vosk eof and
 * reset: force 1 ends even a short one). Returns 0, STT_ENOTREADY when nothing records, or
 * STT_EBUSY. */
int stt_stream_finalize(stt_stream_t *s, int force);

/* Drops the current utterance without a final (rtstt `abort`). */
int stt_stream_abort(stt_stream_t *s);

/* Forgets the pre-roll and the partial chunk (rtstt clear_audio_queue). */
void stt_stream_clear(stt_stream_t *s);

/* From now on audio is ignored (drain, maximum duration). With `after_current`, audio keeps
 * flowing until the next recording_stop (the utterance recording now, or the next one to start),
 * whose final is still delivered. */
void stt_stream_end_input(stt_stream_t *s, int after_current);

/* 1 while an utterance records. */
int stt_stream_recording(const stt_stream_t *s);

/* 1 when nothing is recording and no final or job is outstanding. */
int stt_stream_idle(const stt_stream_t *s);

/* Utterances ended and waiting for their final: a final decoded while an earlier utterance still
 * waits for its own counts until it is delivered (finals go out in utterance order). */
int stt_stream_finals_pending(const stt_stream_t *s);

/* Samples of 16 kHz audio the stream has taken in (its stream time now). */
uint64_t stt_stream_position(const stt_stream_t *s);

/* The stream's talk share for admission pricing: fraction of its audio received while
 * recording, with a prior of STT_TALK_PRIOR_S seconds of talking; 0 before any audio. */
double stt_stream_talk_share(const stt_stream_t *s);

/* Audio received but not yet through the engine (16 kHz samples): pacing for uploads fed
 * faster than real time. */
size_t stt_stream_backlog_samples(const stt_stream_t *s);

/* The stream's client is gone or being closed (its connection is closing): no event is
 * delivered from now on, finals that come back count as dropped and failed ones are not
 * retried; the stream still needs stt_stream_close. */
void stt_stream_mute(stt_stream_t *s);

/* Closes after the last final: ends the input now (the utterance recording is ended even when
 * short, as stt_stream_finalize(s, 1)), keeps delivering events until every final due is
 * delivered or failed (an IDLE event marks the end), then closes as stt_stream_close does and
 * runs closed_cb. For protocols whose results leave out-of-band (a webhook still wants the
 * words of a caller who hung up). Not from inside the stream's own callback. NULL-safe. */
void stt_stream_finish(stt_stream_t *s, stt_stream_closed_cb closed_cb, void *data);
/* Starts the two-phase close: no event is delivered from now on; utterances are abandoned;
 * once every job came back, closed_cb(data) runs (possibly from inside this call) and the
 * stream is freed. NULL-safe. Not from inside the stream's own event callback (aborts): close
 * from the loop, e.g. when the connection's socket is gone. */
void stt_stream_close(stt_stream_t *s, stt_stream_closed_cb closed_cb, void *data);

#endif /* STT_STREAM_H */
