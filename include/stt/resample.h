/* Stateful streaming resampler (speexdsp) for 16-bit mono PCM.
 *
 * One per session; filter state carries across calls so chunk boundaries leave no artifacts and no
 * samples are lost to truncation. Not thread-safe: owned by the session's loop thread. */
#ifndef STT_AUDIO_RESAMPLE_H
#define STT_AUDIO_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct stt_resampler stt_resampler_t;

/* Quality 0..10 (speexdsp); STT_RESAMPLE_QUALITY_DEFAULT balances cost and SNR for speech. */
#define STT_RESAMPLE_QUALITY_DEFAULT 4

/* Creates a resampler from in_rate_hz to out_rate_hz (each 1000..192000). Returns NULL on a bad
 * rate. When the rates are equal, process() copies. Caller owns; free with destroy(). */
stt_resampler_t *stt_resampler_create(int in_rate_hz, int out_rate_hz, int quality);
void stt_resampler_destroy(stt_resampler_t *r);

/* Changes the input rate mid-stream (a client may change sampleRate); keeps filter memory where
 * possible. Returns 0 or STT_EINVAL. */
int stt_resampler_set_input_rate(stt_resampler_t *r, int in_rate_hz);
int stt_resampler_input_rate(const stt_resampler_t *r);

/* Upper bound of output samples that processing in_samples can produce. */
size_t stt_resampler_max_output(const stt_resampler_t *r, size_t in_samples);

/* Consumes all in_samples from `in` (may be unaligned little-endian bytes: `in` points to
 * 2*in_samples bytes) and writes the output samples into `out` (capacity out_cap samples, which
 * must be >= stt_resampler_max_output()). Stores the number written in *out_samples.
 * Returns 0, or STT_EINVAL if out_cap is too small. */
int stt_resampler_process(stt_resampler_t *r, const uint8_t *in, size_t in_samples, int16_t *out,
                          size_t out_cap, size_t *out_samples);

#endif /* STT_AUDIO_RESAMPLE_H */
