/* Voice activity detector: energy + spectral features with an adaptive noise floor, and
 * optionally the Silero VAD network (stt/silero.h) as its score (`--vad silero`).
 *
 * It decides per 512-sample chunk (32 ms at 16 kHz), internally on four 8 ms sub-frames. It
 * reports two decisions: `onset` (a looser test, the role WebRTC plays in the original) and
 * `active` (a stricter test, the role Silero plays). The sensitivities of the original map onto
 * its thresholds (see stt_vad_params_from_sensitivity and docs/vad.md).
 *
 * With a Silero model the two tests apply to Silero's speech probability instead of the energy
 * score, and the energy detector becomes the cheap first stage of a cascade, as WebRTC is in the
 * original: Silero runs on a chunk only when the energy detector hears something above its noise
 * floor (level min_snr_db over it) or while speech is active, so silence and steady noise cost
 * what they cost without Silero.
 *
 * Caller-allocated (init/dispose); no heap in energy mode, one 1.3 KiB Silero state with a
 * model. Not thread-safe: one per session. */
#ifndef STT_AUDIO_VAD_H
#define STT_AUDIO_VAD_H

#include <stddef.h>
#include <stdint.h>

#include "stt/silero.h"

#define STT_VAD_RATE_HZ 16000
#define STT_VAD_CHUNK_SAMPLES 512
/* Chunks `active` stays 1 after the last chunk that was speech (4 chunks = 128 ms), so a pause
 * inside or between words does not flip it. The end of speech is therefore reported
 * STT_VAD_HANGOVER_CHUNKS chunks late; an endpointer may subtract it. */
#define STT_VAD_HANGOVER_CHUNKS 4

typedef struct {
    double active_threshold; /* 0..1 score above which a chunk is speech (strict) */
    double onset_threshold;  /* 0..1 score above which a chunk counts toward onset (loose) */
    double min_snr_db;       /* sub-frame energy over noise floor needed to count at all */
    double floor_adapt_s;    /* time constant of the noise floor while not speech */
    /* Silero model (borrowed; must outlive the VAD), or NULL for the energy score. Read by
     * stt_vad_init only: stt_vad_set_params keeps the detector it was created with. */
    const stt_silero_model_t *silero;
} stt_vad_params_t;

typedef struct {
    double score;     /* 0..1 speech likelihood of the chunk (Silero's probability with a model;
                       * 0 where the cascade did not run it) */
    int onset;        /* 1 if the loose test says speech */
    int active;       /* 1 if the strict test says speech */
    double energy_score; /* the energy detector's score (== score without a model) */
    int energy_onset; /* its loose test (WebRTC's role in the original), in both modes */
    int ran_silero;   /* the network ran on this chunk (cost accounting) */
} stt_vad_result_t;

#define STT_VAD_PITCH_HIST 256 /* 4 kHz samples kept for the periodicity measure (64 ms) */

/* Opaque-by-convention state; fields are private to vad.c. */
typedef struct {
    stt_vad_params_t p;
    double noise_floor_db;
    double speech_level_db; /* diagnostics: average level of speech sub-frames */
    double hang_score;      /* diagnostics: peak score of the current active stretch */
    uint64_t chunks;
    int warm; /* completed noise-floor blocks (capped at 16) */
    /* Filter memories (transposed direct form II): 100 Hz high-pass, 3400 Hz low-pass (speech
     * band), two 1.5 kHz low-pass sections (pitch decimator). */
    double iir[4][2];
    float pitch_hist[STT_VAD_PITCH_HIST];
    unsigned pitch_pos;
    unsigned decim_phase;
    /* Noise floor by minimum statistics: minimum of the 24 ms smoothed level per 200 ms block,
     * over the last few blocks. */
    double block_min_db[16];
    unsigned block_idx;
    unsigned block_fill;
    double recent_ms[3];
    unsigned recent_n;
    int in_speech;      /* strict decision, before hangover */
    int hang_chunks;    /* hangover chunks left */
    int unvoiced_run;   /* chunks kept in speech by the loose test since the last strict one */
    double last_snr_db; /* features of the last chunk, for diagnostics and tests */
    double last_voicing;
    double last_band_ratio;
    stt_silero_t *silero; /* owned; NULL in energy mode */
} stt_vad_t;

stt_vad_params_t stt_vad_default_params(void);

/* Maps the original's knobs: silero_sensitivity (0..1, default 0.05; speech if p > 1 - s) sets the
 * strict threshold, webrtc_sensitivity (0..3, 3 most aggressive) sets the loose one. */
void stt_vad_params_from_sensitivity(stt_vad_params_t *p, double silero_sensitivity,
                                     int webrtc_sensitivity);

void stt_vad_init(stt_vad_t *v, const stt_vad_params_t *p);
/* New thresholds; the detector (energy or Silero) stays the one stt_vad_init chose. */
void stt_vad_set_params(stt_vad_t *v, const stt_vad_params_t *p);
void stt_vad_dispose(stt_vad_t *v);

/* Classifies one chunk of exactly STT_VAD_CHUNK_SAMPLES samples at 16 kHz. */
stt_vad_result_t stt_vad_process(stt_vad_t *v, const int16_t *chunk);

#endif /* STT_AUDIO_VAD_H */
