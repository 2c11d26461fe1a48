/* Silero VAD v6 (16 kHz), a plain-C forward pass over the weights of the silero-vad package's
 * silero_vad_16k.safetensors (scripts/fetch-silero.sh; docs/vad.md).
 *
 * Per 512-sample chunk (32 ms at 16 kHz) it returns the probability that the chunk is speech:
 * STFT (a learned 256-point basis, hop 128, 4 frames) -> magnitude -> four 1-D convolutions
 * (129 -> 128 -> 64 -> 64 -> 128 channels, two of stride 2) -> one LSTM cell (128) -> ReLU ->
 * 1x1 convolution -> sigmoid.
 *
 * The model (stt_silero_model_t: 490 KiB of weights as half floats) is loaded once and shared read-only by
 * every stream and thread; a stream holds only an stt_silero_t: the LSTM state and the last 64
 * samples (1.3 KiB). Model: thread-safe to share after load, destroyed after its last user.
 * stt_silero_t: one per stream, not thread-safe. */
#ifndef STT_AUDIO_SILERO_H
#define STT_AUDIO_SILERO_H

#include <stddef.h>
#include <stdint.h>

#define STT_SILERO_RATE_HZ 16000
#define STT_SILERO_CHUNK_SAMPLES 512
#define STT_SILERO_CONTEXT_SAMPLES 64
#define STT_SILERO_HIDDEN 128

typedef struct stt_silero_model stt_silero_model_t;

/* How a chunk becomes the network's 640-sample input:
 *  - CONTEXT (Silero's own streaming, the package's OnnxWrapper): the previous chunk's last 64
 *    samples, the chunk, then 64 samples reflected at the right edge;
 *  - REFLECT (whisper.cpp 1.9.1's whisper_vad_detect_speech): the chunk alone, reflected by 64
 *    samples at both edges. Kept to check this forward pass against whisper.cpp's layer by
 *    layer (tests/unit/audio/test_silero.c); the server uses CONTEXT. */
typedef enum { STT_SILERO_CONTEXT = 0, STT_SILERO_REFLECT } stt_silero_framing_t;

typedef struct {
    const stt_silero_model_t *m; /* borrowed; must outlive this state */
    stt_silero_framing_t framing;
    float h[STT_SILERO_HIDDEN], c[STT_SILERO_HIDDEN];
    float context[STT_SILERO_CONTEXT_SAMPLES];
} stt_silero_t;

/* Loads the weights file (safetensors: stft_conv.weight, conv1..4.weight/bias,
 * lstm_cell.weight_ih/hh, bias_ih/hh, final_conv.weight/bias, all F32, of Silero v6's shapes).
 * Returns 0 and *out (caller owns), or STT_ENOENT / STT_EIO (file), STT_EPARSE (not
 * safetensors, or a tensor missing or of the wrong shape or dtype) with a one-line reason that
 * names the file in err. The forward pass uses AVX2+FMA+F16C where the CPU has them, portable C
 * otherwise, or always when the environment has STT_SILERO_GENERIC set (for tests). */
int stt_silero_model_load(const char *path, stt_silero_model_t **out, char *err, size_t err_len);

/* The same from a safetensors image in memory (copied; buf may be freed afterwards). */
int stt_silero_model_load_buffer(const uint8_t *buf, size_t n, stt_silero_model_t **out,
                                 char *err, size_t err_len);

void stt_silero_model_destroy(stt_silero_model_t *m);

/* Bytes the model holds (weights, reordered for the forward pass). */
size_t stt_silero_model_bytes(const stt_silero_model_t *m);

/* A fresh stream state (zero LSTM state, zero context). */
void stt_silero_init(stt_silero_t *s, const stt_silero_model_t *m, stt_silero_framing_t framing);

/* Forgets the stream's past (LSTM state and context), as the package's reset_states(). */
void stt_silero_reset(stt_silero_t *s);

/* Speech probability 0..1 of one chunk of STT_SILERO_CHUNK_SAMPLES float samples in -1..1. */
float stt_silero_process_f32(stt_silero_t *s, const float *chunk);

/* The same for 16-bit samples (scaled by 1/32768). */
float stt_silero_process(stt_silero_t *s, const int16_t *chunk);

/* Keeps the context current without running the network (its LSTM state is left as it is): for
 * a caller that skips chunks it already knows to be silent. */
void stt_silero_skip(stt_silero_t *s, const int16_t *chunk);

/* IEEE half-float conversions (round to nearest even, as numpy's astype(float16)); the model
 * keeps its weights as halves, and tools/silero-to-ggml writes them. */
uint16_t stt_f16_from_f32(float f);
float stt_f16_to_f32(uint16_t h);

#endif /* STT_AUDIO_SILERO_H */
