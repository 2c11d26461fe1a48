/* Turn state machine: the recorder semantics of the original (spec section 5.1-5.5) for one
 * session, driven by 512-sample chunks and VAD decisions, measured in stream time (samples), so it
 * is deterministic and independent of wall-clock pacing.
 *
 * It owns the pre-roll ring and the current recording's audio; a finished utterance is handed to
 * the caller (ownership transferred) with stt_turn_take_utterance(). Events are delivered through
 * a callback, synchronously, in the order the original emits them:
 *   vad_detect_start (on creation / after each stop) -> [onset] vad_detect_stop, recording_start
 *   -> start_turn_detection / stop_turn_detection ... -> recording_stop, stop_turn_detection
 *   -> vad_detect_start ...
 * Not thread-safe: owned by its session on the loop thread. */
#ifndef STT_AUDIO_TURN_H
#define STT_AUDIO_TURN_H

#include <stddef.h>
#include <stdint.h>

#define STT_TURN_RATE_HZ 16000
#define STT_TURN_CHUNK_SAMPLES 512

typedef enum {
    STT_TEV_VAD_DETECT_START = 0,
    STT_TEV_VAD_DETECT_STOP,
    STT_TEV_RECORDING_START,
    STT_TEV_START_TURN_DETECTION,
    STT_TEV_STOP_TURN_DETECTION,
    STT_TEV_RECORDING_STOP,     /* an utterance is ready: call stt_turn_take_utterance() */
    STT_TEV_EARLY_TRANSCRIPTION /* early_transcription_on_silence elapsed (once per silence) */
} stt_turn_event_t;

/* Returns the wire name ("vad_detect_start", ...); "early_transcription" for the last. */
const char *stt_turn_event_name(stt_turn_event_t ev);

typedef enum {
    STT_TURN_LISTENING = 0, /* waiting for voice */
    STT_TURN_RECORDING,
} stt_turn_state_t;

typedef struct {
    double min_length_of_recording_s;         /* 1.1 */
    double min_gap_between_recordings_s;      /* 0 */
    double deactivity_silence_confirmation_s; /* 0.16 */
    double post_speech_silence_s;             /* 0.7 */
    double early_transcription_on_silence_s;  /* 0.2; 0 = off */
    double pre_recording_buffer_s;            /* 1.0 */
    double max_utterance_s;                   /* recording force-stopped at this length */
    int onset_chunks;                         /* consecutive onset chunks to start; 2 */
} stt_turn_params_t;

stt_turn_params_t stt_turn_default_params(void);

/* `at_sample` is the stream position (16 kHz samples since the session began) of the chunk end. */
typedef void (*stt_turn_cb)(void *data, stt_turn_event_t ev, uint64_t at_sample);

typedef struct stt_turn stt_turn_t;

/* Creates the machine in LISTENING and emits nothing (call stt_turn_start to emit the first
 * vad_detect_start). Caller owns. */
stt_turn_t *stt_turn_create(const stt_turn_params_t *p, stt_turn_cb cb, void *cb_data);
void stt_turn_destroy(stt_turn_t *t);

/* Emits the initial vad_detect_start. */
void stt_turn_start(stt_turn_t *t);

/* Parameters may change between chunks (set_parameter); takes effect from the next chunk. */
void stt_turn_set_params(stt_turn_t *t, const stt_turn_params_t *p);

/* Feeds one chunk of STT_TURN_CHUNK_SAMPLES samples with its VAD decisions:
 * `onset` (loose) drives recording start, `active` (strict) drives end of speech. */
void stt_turn_feed(stt_turn_t *t, const int16_t *chunk, int onset, int active);

/* Control `stop`: ends the current recording like an end-of-speech timeout.
 * Returns 0 if stopped, STT_EBUSY if the recording is younger than min_length_of_recording
 * (ignored, as in the original), STT_ENOTREADY if not recording (no spurious event). */
int stt_turn_stop(stt_turn_t *t);

/* Ends the current recording now, keeping its utterance however short (a client's explicit
 * end of stream: vosk eof, Deepgram Finalize). Returns 0, or STT_ENOTREADY if not recording. */
int stt_turn_stop_now(stt_turn_t *t);

/* Control `abort`: discards the current recording (recording_stop is emitted, no utterance is
 * kept) and clears pre-roll. Returns 1 if a recording was discarded, else 0. */
int stt_turn_abort(stt_turn_t *t);

/* Control `clear_audio_queue`: empties the pre-roll ring; does not stop a recording. */
void stt_turn_clear_preroll(stt_turn_t *t);

/* The current recording so far (pre-roll + recorded chunks) that is still held: samples
 * [stt_turn_recording_offset, offset + n_samples) of it. Borrowed until the next call into the
 * machine. n_samples is set to 0 and NULL returned when not recording. */
const int16_t *stt_turn_recording(const stt_turn_t *t, size_t *n_samples);
size_t stt_turn_recording_offset(const stt_turn_t *t);

/* The caller needs no sample of the current recording before `upto` (counted from its start)
 * any more: they are freed, and the buffer shrinks. Lengths and limits still count them. Lets a
 * session hold only the audio its engine has not consumed yet. */
void stt_turn_release(stt_turn_t *t, size_t upto);

/* After RECORDING_STOP: transfers the finished utterance's held samples (malloc'd) to the
 * caller; stt_turn_utterance_offset tells where they start in it (0 unless its head was
 * released). Returns NULL if there is none. */
int16_t *stt_turn_take_utterance(stt_turn_t *t, size_t *n_samples);
size_t stt_turn_utterance_offset(const stt_turn_t *t);

stt_turn_state_t stt_turn_state(const stt_turn_t *t);
uint64_t stt_turn_position(const stt_turn_t *t);        /* samples fed so far */
uint64_t stt_turn_recording_start(const stt_turn_t *t); /* sample of recording start, 0 */
uint64_t stt_turn_recording_stop(const stt_turn_t *t);  /* sample of last stop, 0 if none */
uint64_t stt_turn_speech_end_silence_start(const stt_turn_t *t); /* 0 when not in silence */
int stt_turn_awaiting_speech_end(const stt_turn_t *t);           /* 1 during turn detection */

#endif /* STT_AUDIO_TURN_H */
