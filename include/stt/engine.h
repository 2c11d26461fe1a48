/* Engine interface: one small vtable every recognizer implements.
 *
 * Threads: load/unload run on the main thread before/after the worker pool; utt_* run on engine
 * worker threads only. An utterance handle (`stt_utt_t`) is used by one worker at a time (the pool
 * guarantees jobs of one utterance never run concurrently), but consecutive jobs of the same
 * utterance may run on different workers. The model is shared read-only by all workers.
 *
 * Utterance lifecycle: utt_begin leases whatever per-utterance decoding state the engine needs
 * (pocketsphinx: a decoder from a pool; a session never owns one), utt_feed pushes new 16 kHz
 * audio and optionally returns a partial hypothesis, utt_end finishes and returns the final
 * text and releases the lease; utt_abort releases without a result. */
#ifndef STT_ENGINE_H
#define STT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "stt/config.h"

typedef struct stt_model stt_model_t; /* engine-specific, opaque */
typedef struct stt_utt stt_utt_t;     /* engine-specific, opaque */

#define STT_UTT_PROMPT_MAX 256

/* Per-utterance options captured from the session's parameters when the utterance starts. */
typedef struct {
    char language[STT_LANGUAGE_MAX];
    int beam_size;
    int beam_size_realtime;
    /* Words the call expects (a protocol's vocabulary hints: "sales, customer support"), ""
     * when none. whisper puts them in its prompt after --initial_prompt (finals) and
     * --initial_prompt_realtime (partials); pocketsphinx and the test engines ignore them. */
    char prompt[STT_UTT_PROMPT_MAX];
    /* 1: the final is an English translation (OpenAI /v1/audio/translations); whisper with a
     * multilingual model only, the other engines and English-only models ignore it (the file
     * API refuses such requests before they get here). */
    int translate;
} stt_utt_options_t;

struct cJSON;

/* One recognised word of a result.
 *
 * Time origin: seconds of utterance audio, counted in the samples the engine was given for this
 * utterance: every sample passed to utt_feed (all calls, in order) and then to utt_end since
 * utt_begin, at 16 kHz, so sample k is at k / 16000 s. It is the same whatever the engine does
 * inside (pocketsphinx's frames, whisper's whole-utterance decode, the null engine's nothing).
 * A caller that wants stream time adds the stream position of the utterance's first fed sample;
 * an utterance decoded again from its kept audio (a new utt_begin) counts from that audio's
 * first sample again. */
typedef struct {
    char *word;          /* owned by the result; valid UTF-8, no spaces around it */
    double start_s;      /* see the time origin above */
    double end_s;        /* >= start_s */
    double confidence;   /* 0..1, or -1 if the engine does not say */
} stt_word_t;

/* A recognition result, owned by the result (free with stt_result_dispose). A result the engine
 * did not fill is all zero (callers start from {0}); stt_result_dispose leaves it so again. */
typedef struct {
    char *text;
    double confidence;        /* 0..1, or -1 if unknown: pocketsphinx and whisper finals give
                               * the mean of their words' confidences, partials -1 */
    char language[8];         /* detected or used language ("" if the engine does not say) */
    struct cJSON *segments;   /* finals only, may be NULL: [{start, end, text, words?}] */
    /* The words of `text`, in order: an array of n_words owned by the result, each word's string
     * owned too; NULL and 0 when there are none (empty text, or an engine or result kind without
     * word times). For every word 0 <= start_s <= end_s <= the utterance's audio so far, and a
     * word never starts before the previous one ends. They are the engine's own words (no
     * fillers or silences, pocketsphinx's "(2)" pronunciation marks stripped; whisper's words
     * keep their punctuation, and a punctuation-only token is part of the word before it, or of
     * the first word), before any server-side text clean-up.
     * Which results have them: pocketsphinx finals and partials (partials with confidence -1:
     * pocketsphinx has no posterior for a partial); whisper finals only (a partial's text spans
     * passes whose timestamps are not kept); the null engine whenever it has text
     * (stt_null_set_text), spread evenly over the audio; the fault engine passes on what the
     * engine it wraps gives. */
    stt_word_t *words;
    size_t n_words;
} stt_result_t;

/* Frees the text, segments and words; accepts NULL and a result already disposed. */
void stt_result_dispose(stt_result_t *r);

typedef struct {
    const char *name;
    /* Optional, on the main thread before the server starts: checks the configuration (model
     * files exist, names are known) quickly. Returns 0 or STT_E*, with one line in err. */
    int (*check)(const stt_config_t *cfg, char *err, size_t errlen);
    /* 1: utt_feed consumes the audio it is given and utt_end needs only what was not fed, so
     * the server may free fed audio; 0: the engine decodes the whole utterance at the end. */
    int incremental;
    /* Loads the model (once). Returns 0 or STT_E*, with a message in err. */
    int (*load)(const stt_config_t *cfg, stt_model_t **out, char *err, size_t errlen);
    void (*unload)(stt_model_t *m);
    /* Warms up / checks the model on a worker thread (e.g. decode 1 s of silence). */
    int (*probe)(stt_model_t *m);
    int (*utt_begin)(stt_model_t *m, const stt_utt_options_t *opt, stt_utt_t **out);
    /* Feeds n samples (may be 0). If want_partial, fills *partial (text may be empty). */
    int (*utt_feed)(stt_utt_t *u, const int16_t *pcm, size_t n, int want_partial,
                    stt_result_t *partial);
    /* Feeds the last n samples, finishes the utterance, fills *final and frees u. */
    int (*utt_end)(stt_utt_t *u, const int16_t *pcm, size_t n, stt_result_t *final_result);
    /* Frees u without a result. */
    void (*utt_abort)(stt_utt_t *u);
    /* Optional, on the loader thread after the server is ready; returns at once. Asks the
     * engine to keep `n` idle decoding states ready from then on (pocketsphinx: a background
     * thread at idle priority makes them and tops the pool up as utterances lease them, up to
     * the cap; unload stops it), so calls rarely pay for creating one on a worker. */
    void (*prewarm)(stt_model_t *m, int n);
    /* Optional, on a worker thread, after a job of that worker failed (STT_EENGINE) or timed
     * out: destroys the engine state this thread keeps (whisper: its whisper_state; the fault
     * engine: its simulated state) and makes it anew, so a corrupted state does not fail every
     * later job. Other workers keep serving meanwhile. Returns 0 or STT_E*. */
    int (*worker_reset)(stt_model_t *m);
    /* 1: `stats` in_use counts states leased to utterances (one per live utterance at most),
     * which lets the server's consistency check find leaks; 0: per-worker states (whisper). */
    int leases_per_utterance;
    /* Gauges for metrics (may be NULL): leased and pooled decoding states. */
    void (*stats)(stt_model_t *m, int *in_use, int *pooled);
} stt_engine_vtable_t;

/* Cancellation of the job running on this thread: the worker pool points the thread at the
 * job's flag before each job (NULL after); an engine with long calls polls
 * stt_engine_cancelled() and then returns STT_ECANCELED. */
void stt_engine_set_cancel_flag(const volatile int *flag);
int stt_engine_cancelled(void);
/* 1 while this thread runs a worker pool job (the flag above is set), 0 elsewhere (the loader
 * thread's startup probe). */
int stt_engine_in_job(void);

/* Returns the engine named `name` ("pocketsphinx", "whisper", "null"), or NULL (also for
 * "whisper" in a build without whisper.cpp). */
const stt_engine_vtable_t *stt_engine_find(const char *name);

/* The engine --engine auto means: whisper when --model or --rt-model names a model, else
 * pocketsphinx. */
const char *stt_engine_auto_name(const stt_config_t *cfg);

/* The fault-injection engine's live settings (a test tool: --engine fault --fault_injection,
 * changed by the control call_method "fault"). Any thread. */
typedef struct {
    double fail_rate, hang_rate, hang_s, slow_factor;
    double cost_per_audio_s; /* seconds each job sleeps per second of 16 kHz audio it carries */
    /* One-shot faults, each taken by the next N jobs: fail; hang (for hang_s, or until
     * cancelled); corrupt the worker thread's engine state (that job and every later one on the
     * thread fail until the pool recreates the state); leak a decoding state (parked on the
     * worker, released only when its state is recreated or at unload). */
    int fail_next, hang_next, crash_next, leak_next;
    int hang_uncancellable; /* hangs ignore cancellation (the watchdog must replace the worker) */
    int break_model; /* the shared model is "corrupt": every job fails, worker resets do not help;
                      * loading the model again clears it */
} stt_fault_params_t;
void stt_fault_set(const stt_fault_params_t *p);
void stt_fault_get(stt_fault_params_t *p);

/* The null engine's text (a test tool, so the paths that carry words can be tested without a
 * recognizer): from the next result on, every partial and final of the null engine says `text`
 * (copied; NULL or "" restores the default, empty text), with its space-separated words spread
 * evenly over the audio its utterance was fed so far (confidence 1). Any thread. */
void stt_null_set_text(const char *text);

extern const stt_engine_vtable_t stt_engine_pocketsphinx;
extern const stt_engine_vtable_t stt_engine_null;
extern const stt_engine_vtable_t stt_engine_fault;
#ifdef STT_HAVE_WHISPER
extern const stt_engine_vtable_t stt_engine_whisper;
#endif

#endif /* STT_ENGINE_H */
