/* gen-test-model: writes Whisper model files in whisper.cpp's ggml format (as loaded by
 * whisper_model_load in whisper.cpp 1.9.1) with the true hyperparameters, tensor names, shapes
 * and types of the real OpenAI models, filled with pseudo-random weights.
 *
 * THESE WEIGHTS CARRY NO MEANING. A generated model transcribes nothing: it turns any audio into
 * a few made-up pseudo-words. The files exist so that the whisper engine, its loader, its memory
 * and its speed can be tested and benchmarked without downloading real weights; never ship them
 * or compare their text with anything.
 *
 * What the values are chosen for: finite activations everywhere (no NaN/Inf in F16 or F32),
 * the same compute cost as the real model, and decoding that ends by itself after about a dozen
 * varied tokens, so that a test transcribing a 30 s window neither runs to the 224-token limit
 * nor fails whisper's log-probability check and redoes the window at five more temperatures.
 *   - Layer-norm weights are 1, every bias is 0, matrices are N(0, 1/fan_in) (so each layer keeps
 *     roughly unit variance), the encoder's positional embedding is the sinusoid table the real
 *     encoder uses.
 *   - The decoder's positional embedding is large and random, so that each step's state, and
 *     thus its best token, differs; the final layer norm has a gain that spreads the text logits
 *     wide enough for greedy decoding to be confident. Why, and the numbers: see DEC_POS_SD.
 *   - The decoder ends itself with a clock: the last channel (`clock` below) of the decoder's
 *     positional embedding grows linearly with the position, no decoder layer writes to that
 *     channel (the rows of attn.out, cross_attn.out and mlp.2 that would are 0), no input token
 *     embedding has it, and the <|endoftext|> row of the token embedding has only that channel.
 *     So the EOT logit rises with the position while the other logits stay random, and EOT is
 *     picked once it overtakes the best text token: 10 to 15 tokens after <|startoftranscript|>
 *     at whisper's default settings, sometimes fewer when a timestamp comes first. Any prompt
 *     before <|startoftranscript|> starts the decoder at a later position and so ends it sooner:
 *     an initial prompt, and also the text of the earlier 30 s windows of the same whisper_full
 *     call (whisper.cpp's no_context only clears that history between calls), so on audio longer
 *     than 30 s every window after the first gives a single word. (A sawtooth clock was tried
 *     for this; the history is about as long as the first window's text, so later windows still
 *     started past the crossing.)
 * The text depends on the position far more than on the audio: different audio gives nearly the
 * same words.
 * Tokens are printable ASCII: 0..93 are the characters '!'..'~', 220 is " " (whisper.cpp looks
 * " " up with std::map::at when it suppresses blanks, so it must exist), the rest are pseudo-words
 * made of consonant-vowel syllables, three in four with a leading space; all distinct.
 *
 * Output: DIR/ggml-NAME.bin, written to a temporary file next to it and renamed into place once
 * complete and fsync'ed, so a crash, a signal or a full disk never leaves a half file under the
 * final name (SIGINT, SIGTERM, SIGHUP and write errors also remove the temporary file; SIGKILL
 * leaves it). The temporary name carries the pid (FILE.tmp.PID) because ctest may run two tests
 * that generate the same model at once. Files are streamed through one 8 MiB buffer: large-v2
 * (3 GB) never sits in memory. Output is deterministic: the same name, ftype and seed always give
 * the same bytes (each tensor's generator is seeded from the seed and the tensor's name).
 *
 * Exit codes: 0 every model written or already there, 1 a model could not be written, 2 usage
 * error (unknown option or model name).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
};

#define GGML_FILE_MAGIC 0x67676d6cu /* "ggml" */
#define N_FFT_BINS 201              /* 1 + n_fft / 2 for n_fft 400 */
#define SAMPLE_RATE_HZ 16000
#define WRITE_BUF_BYTES (8u << 20)

/* Decoder tuning (see the top of the file); measured with whisper-cli 1.9.1 on tiny to
 * large-v2, greedy and beam search, with and without timestamps.
 * TEXT_LOGIT_SD: spread of the text logits. At 5 the best token's probability was too low and
 * tiny.en failed the logprob check on every window (one fallback each); at 8 no model did.
 * TEXT_LOGIT_MAX: about the best of ~51k logits of that spread; the EOT logit reaches it at
 * position CLOCK_MID_POS and stops growing at CLOCK_CAP times it (EOT then wins at any
 * temperature).
 * DEC_POS_SD: the decoder's positional embedding is N(0, DEC_POS_SD) (the real one is learned,
 * not sinusoidal). It has to dominate the residual stream: with small (0.5) sinusoids the parts
 * of the stream that do not change from step to step (the GELU's mean, cross-attention's average
 * over 1,500 frames) won every step and the decoder repeated one token until EOT.
 * DEC_LN_GAIN: the final layer norm's weight. The token embedding is also the input embedding,
 * so the previous token's logit gets |E[t]|^2 * gain / sd(residual) for free; putting the logit
 * spread in the gain rather than in E keeps that bonus small and the output from stuttering. */
#define TEXT_LOGIT_SD 8.0
#define TEXT_LOGIT_MAX (4.3 * TEXT_LOGIT_SD)
#define CLOCK_MID_POS 12.0
#define CLOCK_CAP 4.0
#define DEC_POS_SD 3.0
#define DEC_LN_GAIN 4.0

typedef struct {
    const char *name;
    int32_t n_vocab;
    int32_t n_state; /* n_audio_state == n_text_state in every Whisper model */
    int32_t n_head;
    int32_t n_audio_layer;
    int32_t n_text_layer;
    int32_t n_mels;
} model_def_t;

#define N_AUDIO_CTX 1500
#define N_TEXT_CTX 448

/* clang-format off: one model a line */
static const model_def_t MODELS[] = {
    {"tiny", 51865, 384, 6, 4, 4, 80},          {"tiny.en", 51864, 384, 6, 4, 4, 80},
    {"base", 51865, 512, 8, 6, 6, 80},          {"base.en", 51864, 512, 8, 6, 6, 80},
    {"small", 51865, 768, 12, 12, 12, 80},      {"small.en", 51864, 768, 12, 12, 12, 80},
    {"medium", 51865, 1024, 16, 24, 24, 80},    {"medium.en", 51864, 1024, 16, 24, 24, 80},
    {"large-v1", 51865, 1280, 20, 32, 32, 80},  {"large-v2", 51865, 1280, 20, 32, 32, 80},
    {"large-v3", 51866, 1280, 20, 32, 32, 128}, {"large-v3-turbo", 51866, 1280, 20, 32, 4, 128},
};
/* clang-format on */
#define N_MODELS (sizeof(MODELS) / sizeof(MODELS[0]))

/* whisper.cpp: English-only vocabularies (n_vocab 51864) end the text tokens at 50256 with
 * <|endoftext|>; multilingual ones carry one more text token (the empty string at 50256) and so
 * have EOT at 50257. The file holds only the text tokens; the loader adds the special ones. */
static int is_multilingual(const model_def_t *m)
{
    return m->n_vocab >= 51865;
}

static int32_t file_vocab_count(const model_def_t *m)
{
    return is_multilingual(m) ? 50257 : 50256;
}

static int32_t token_eot(const model_def_t *m)
{
    return is_multilingual(m) ? 50257 : 50256;
}

/* ---- pseudo-random numbers ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Approximately N(0, 1): the sum of four 16-bit uniforms (Irwin-Hall, bounded at +-3.46), one
 * 64-bit draw per sample. Bounded tails are a feature here: no weight is ever an outlier. */
static float approx_normal(uint64_t *state)
{
    uint64_t r = splitmix64(state);
    uint32_t sum = (uint32_t)(r & 0xffff) + (uint32_t)((r >> 16) & 0xffff) +
                   (uint32_t)((r >> 32) & 0xffff) + (uint32_t)(r >> 48);
    return ((float)sum - 131070.0f) * (1.7320508f / 65536.0f);
}

/* ---- float -> half, round to nearest even (F. Giesen, float_to_half_fast3_rtne) ------------- */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint16_t f32_to_f16(float f)
{
    const uint32_t f32_inf = 255u << 23;
    const uint32_t f16_overflow = (127u + 16u) << 23; /* 65536.0f: rounds to inf from here */
    const float denorm_magic = bits_f32(((127u - 15u) + (23u - 10u) + 1u) << 23);
    uint32_t u = f32_bits(f);
    const uint32_t sign = u & 0x80000000u;
    uint16_t h;

    u ^= sign;
    if (u >= f16_overflow) {
        h = u > f32_inf ? 0x7e00 : 0x7c00; /* NaN stays NaN, the rest is inf */
    } else if (u < (113u << 23)) {
        /* Below 2^-14: a half subnormal or zero. Adding the magic number makes the FPU do the
         * shift and the round-to-nearest-even for us. */
        h = (uint16_t)(f32_bits(bits_f32(u) + denorm_magic) - f32_bits(denorm_magic));
    } else {
        const uint32_t mant_odd = (u >> 13) & 1u;
        u -= 112u << 23; /* rebias the exponent from 127 to 15 */
        u += 0xfffu + mant_odd;
        h = (uint16_t)(u >> 13);
    }
    return (uint16_t)(h | (sign >> 16));
}

/* ---- buffered little-endian writer ---------------------------------------------------------- */

typedef struct {
    FILE *f;
    unsigned char *buf;
    size_t len;
    int err; /* errno of the first failure; once set, everything else is a no-op */
} writer_t;

static void writer_flush(writer_t *w)
{
    if (w->err || w->len == 0) {
        return;
    }
    errno = 0;
    if (fwrite(w->buf, 1, w->len, w->f) != w->len) {
        w->err = errno ? errno : EIO;
    }
    w->len = 0;
}

static unsigned char *writer_reserve(writer_t *w, size_t n)
{
    if (WRITE_BUF_BYTES - w->len < n) {
        writer_flush(w);
    }
    unsigned char *p = w->buf + w->len;
    w->len += n;
    return p;
}

static void put_u32(writer_t *w, uint32_t v)
{
    unsigned char *p = writer_reserve(w, 4);
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void put_i32(writer_t *w, int32_t v)
{
    put_u32(w, (uint32_t)v);
}

static void put_f32(writer_t *w, float v)
{
    put_u32(w, f32_bits(v));
}

static void put_bytes(writer_t *w, const void *data, size_t n)
{
    memcpy(writer_reserve(w, n), data, n);
}

/* ---- header: hparams, mel filterbank, vocabulary -------------------------------------------- */

static double hz_to_mel_slaney(double hz)
{
    const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, logstep = log(6.4) / 27.0;
    return hz < min_log_hz ? hz / f_sp : min_log_hz / f_sp + log(hz / min_log_hz) / logstep;
}

static double mel_to_hz_slaney(double mel)
{
    const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, logstep = log(6.4) / 27.0;
    const double min_log_mel = min_log_hz / f_sp;
    return mel < min_log_mel ? mel * f_sp : min_log_hz * exp(logstep * (mel - min_log_mel));
}

/* The filterbank Whisper itself uses: librosa.filters.mel(sr=16000, n_fft=400, n_mels) with the
 * Slaney mel scale and Slaney (area) normalisation, as n_mels rows of 201 FFT bins. */
static void write_mel_filters(writer_t *w, int32_t n_mels)
{
    double mel_hz[130];
    const double mel_lo = hz_to_mel_slaney(0.0), mel_hi = hz_to_mel_slaney(SAMPLE_RATE_HZ / 2.0);

    for (int i = 0; i < n_mels + 2; i++) {
        mel_hz[i] = mel_to_hz_slaney(mel_lo + (mel_hi - mel_lo) * i / (n_mels + 1));
    }
    put_i32(w, n_mels);
    put_i32(w, N_FFT_BINS);
    for (int j = 0; j < n_mels; j++) {
        const double enorm = 2.0 / (mel_hz[j + 2] - mel_hz[j]);
        for (int k = 0; k < N_FFT_BINS; k++) {
            const double hz = k * (SAMPLE_RATE_HZ / 2.0) / (N_FFT_BINS - 1);
            const double lower = (hz - mel_hz[j]) / (mel_hz[j + 1] - mel_hz[j]);
            const double upper = (mel_hz[j + 2] - hz) / (mel_hz[j + 2] - mel_hz[j + 1]);
            const double v = fmax(0.0, fmin(lower, upper));
            put_f32(w, (float)(v * enorm));
        }
    }
}

/* Writes token `id`'s text into out (at least 8 bytes) and returns its length. */
static size_t token_text(const model_def_t *m, int32_t id, char *out)
{
    static const char consonants[] = "bdfghjklmnprstvz"; /* 16 */
    static const char vowels[] = "aeiou";                /* 5: 80 syllables */
    char syl[8];
    size_t n = 0, k = 0;

    if (is_multilingual(m) && id == 50256) {
        return 0; /* the empty-string token of the multilingual vocabulary */
    }
    if (id == 220) {
        out[0] = ' ';
        return 1;
    }
    if (id < 94) {
        out[0] = (char)('!' + id);
        return 1;
    }
    if (id % 4 != 0) {
        out[n++] = ' ';
    }
    /* Bijective base 80: distinct ids give distinct syllable strings, at most 3 of them. */
    for (uint32_t v = (uint32_t)id; v > 0; v = (v - 1) / 80) {
        const uint32_t s = (v - 1) % 80;
        syl[k++] = vowels[s % 5];
        syl[k++] = consonants[s / 5];
    }
    for (size_t i = 0; i < k; i += 2) {
        out[n++] = syl[i + 1];
        out[n++] = syl[i];
    }
    return n;
}

static void write_header(writer_t *w, const model_def_t *m, int f16)
{
    /* In the loader's order; the last one is ftype: 1 mostly F16, 0 all F32. */
    const int32_t hparams[] = {
        m->n_vocab, N_AUDIO_CTX, m->n_state,      m->n_head, m->n_audio_layer, N_TEXT_CTX,
        m->n_state, m->n_head,   m->n_text_layer, m->n_mels, f16 ? 1 : 0,
    };
    char text[8];

    put_u32(w, GGML_FILE_MAGIC);
    for (size_t i = 0; i < sizeof(hparams) / sizeof(hparams[0]); i++) {
        put_i32(w, hparams[i]);
    }
    write_mel_filters(w, m->n_mels);
    put_i32(w, file_vocab_count(m));
    for (int32_t id = 0; id < file_vocab_count(m); id++) {
        const size_t len = token_text(m, id, text);
        put_u32(w, (uint32_t)len);
        put_bytes(w, text, len);
    }
}

/* ---- tensors -------------------------------------------------------------------------------- */

typedef enum {
    FILL_ZERO,
    FILL_ONE,
    FILL_NORMAL,     /* N(0, 1/fan_in) */
    FILL_ENC_POS,    /* whisper's sinusoids(n_audio_ctx, n_state) */
    FILL_DEC_POS,    /* N(0, DEC_POS_SD) plus the clock channel */
    FILL_DEC_LN,     /* DEC_LN_GAIN, 1 on the clock channel */
    FILL_TOKEN_EMBD, /* N(0, sd) without the clock channel; the EOT row is the clock channel */
} fill_t;

typedef struct {
    char name[64];
    int32_t n_dims;
    int32_t ne[3]; /* ggml order: ne[0] varies fastest; unused dims are 1 */
    int f16;
    fill_t fill;
    int32_t zero_row; /* a row (index over ne[1] * ne[2]) forced to 0, or -1 */
} tensor_spec_t;

typedef struct {
    tensor_spec_t *v;
    size_t n, cap;
} spec_list_t;

static void add_spec(spec_list_t *l, const char *name, int32_t n_dims, int32_t ne0, int32_t ne1,
                     int32_t ne2, int f16, fill_t fill, int32_t zero_row)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (!l->v) {
            fprintf(stderr, "gen-test-model: out of memory\n");
            abort();
        }
    }
    tensor_spec_t *t = &l->v[l->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = ne2;
    t->f16 = f16;
    t->fill = fill;
    t->zero_row = zero_row;
}

/* One transformer block's tensors, in whisper_model_load's order and with its types: 2-D
 * matrices in the model type (F16 when f16), vectors and biases F32. `out_zero_row` is the row
 * of the output projections (attn.out, cross_attn.out, mlp.2) forced to 0, or -1. */
static void add_block(spec_list_t *l, const char *prefix, int32_t n, int f16, int cross,
                      int32_t out_zero_row)
{
    /* ne0/ne1 in units of n; ne1 == 0 marks a vector of ne0 * n. */
    static const struct {
        const char *suffix;
        int32_t ne0, ne1;
        fill_t fill;
        int is_out, cross_only;
    } parts[] = {
        {"mlp_ln.weight", 1, 0, FILL_ONE, 0, 0},
        {"mlp_ln.bias", 1, 0, FILL_ZERO, 0, 0},
        {"mlp.0.weight", 1, 4, FILL_NORMAL, 0, 0},
        {"mlp.0.bias", 4, 0, FILL_ZERO, 0, 0},
        {"mlp.2.weight", 4, 1, FILL_NORMAL, 1, 0},
        {"mlp.2.bias", 1, 0, FILL_ZERO, 0, 0},
        {"attn_ln.weight", 1, 0, FILL_ONE, 0, 0},
        {"attn_ln.bias", 1, 0, FILL_ZERO, 0, 0},
        {"attn.query.weight", 1, 1, FILL_NORMAL, 0, 0},
        {"attn.query.bias", 1, 0, FILL_ZERO, 0, 0},
        {"attn.key.weight", 1, 1, FILL_NORMAL, 0, 0}, /* the key projection has no bias */
        {"attn.value.weight", 1, 1, FILL_NORMAL, 0, 0},
        {"attn.value.bias", 1, 0, FILL_ZERO, 0, 0},
        {"attn.out.weight", 1, 1, FILL_NORMAL, 1, 0},
        {"attn.out.bias", 1, 0, FILL_ZERO, 0, 0},
        {"cross_attn_ln.weight", 1, 0, FILL_ONE, 0, 1},
        {"cross_attn_ln.bias", 1, 0, FILL_ZERO, 0, 1},
        {"cross_attn.query.weight", 1, 1, FILL_NORMAL, 0, 1},
        {"cross_attn.query.bias", 1, 0, FILL_ZERO, 0, 1},
        {"cross_attn.key.weight", 1, 1, FILL_NORMAL, 0, 1},
        {"cross_attn.value.weight", 1, 1, FILL_NORMAL, 0, 1},
        {"cross_attn.value.bias", 1, 0, FILL_ZERO, 0, 1},
        {"cross_attn.out.weight", 1, 1, FILL_NORMAL, 1, 1},
        {"cross_attn.out.bias", 1, 0, FILL_ZERO, 0, 1},
    };
    char name[64];

    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (parts[i].cross_only && !cross) {
            continue;
        }
        const int n_name = snprintf(name, sizeof name, "%s.%s", prefix, parts[i].suffix);
        if (n_name < 0 || (size_t)n_name >= sizeof name) {
            abort(); /* cannot happen: the longest name is 41 bytes */
        }
        if (parts[i].ne1 == 0) {
            add_spec(l, name, 1, parts[i].ne0 * n, 1, 1, 0, parts[i].fill, -1);
        } else {
            add_spec(l, name, 2, parts[i].ne0 * n, parts[i].ne1 * n, 1, f16, parts[i].fill,
                     parts[i].is_out ? out_zero_row : -1);
        }
    }
}

/* Every tensor whisper_model_load creates, with its exact name, shape and type. */
static spec_list_t build_specs(const model_def_t *m, int f16)
{
    spec_list_t l = {0};
    const int32_t n = m->n_state;
    const int32_t clock = n - 1;
    char prefix[32];

    add_spec(&l, "encoder.positional_embedding", 2, n, N_AUDIO_CTX, 1, 0, FILL_ENC_POS, -1);
    add_spec(&l, "encoder.conv1.weight", 3, 3, m->n_mels, n, f16, FILL_NORMAL, -1);
    add_spec(&l, "encoder.conv1.bias", 2, 1, n, 1, 0, FILL_ZERO, -1);
    add_spec(&l, "encoder.conv2.weight", 3, 3, n, n, f16, FILL_NORMAL, -1);
    add_spec(&l, "encoder.conv2.bias", 2, 1, n, 1, 0, FILL_ZERO, -1);
    add_spec(&l, "encoder.ln_post.weight", 1, n, 1, 1, 0, FILL_ONE, -1);
    add_spec(&l, "encoder.ln_post.bias", 1, n, 1, 1, 0, FILL_ZERO, -1);
    for (int i = 0; i < m->n_audio_layer; i++) {
        snprintf(prefix, sizeof prefix, "encoder.blocks.%d", i);
        add_block(&l, prefix, n, f16, 0, -1);
    }
    add_spec(&l, "decoder.positional_embedding", 2, n, N_TEXT_CTX, 1, 0, FILL_DEC_POS, -1);
    add_spec(&l, "decoder.token_embedding.weight", 2, n, m->n_vocab, 1, f16, FILL_TOKEN_EMBD, -1);
    add_spec(&l, "decoder.ln.weight", 1, n, 1, 1, 0, FILL_DEC_LN, -1);
    add_spec(&l, "decoder.ln.bias", 1, n, 1, 1, 0, FILL_ZERO, -1);
    for (int i = 0; i < m->n_text_layer; i++) {
        snprintf(prefix, sizeof prefix, "decoder.blocks.%d", i);
        add_block(&l, prefix, n, f16, 1, clock);
    }
    return l;
}

static uint64_t spec_elements(const tensor_spec_t *t)
{
    return (uint64_t)t->ne[0] * (uint64_t)t->ne[1] * (uint64_t)t->ne[2];
}

static uint64_t spec_file_bytes(const tensor_spec_t *t)
{
    return 12u + 4u * (uint64_t)t->n_dims + strlen(t->name) + spec_elements(t) * (t->f16 ? 2 : 4);
}

/* The decoder residual stream's expected spread: the positional embedding plus about unit
 * variance per layer (self-attention, cross-attention and MLP together). The final layer norm
 * divides the clock by the actual spread; multiplying it by this estimate keeps the EOT crossing
 * near CLOCK_MID_POS for 4 and for 32 layers. */
static double decoder_residual_sd(const model_def_t *m)
{
    return sqrt(DEC_POS_SD * DEC_POS_SD + 1.0 + m->n_text_layer);
}

/* Fills row `r` (ne[0] values) of tensor t. */
static void fill_row(const model_def_t *m, const tensor_spec_t *t, int32_t r, uint64_t *rng,
                     float *row)
{
    const int32_t len = t->ne[0];
    const int32_t clock = m->n_state - 1;

    switch (t->fill) {
    case FILL_ZERO:
    case FILL_ONE:
        for (int32_t i = 0; i < len; i++) {
            row[i] = t->fill == FILL_ONE ? 1.0f : 0.0f;
        }
        return;
    case FILL_NORMAL: {
        const int32_t fan_in = t->n_dims == 3 ? t->ne[0] * t->ne[1] : t->ne[0];
        const float sd = (float)(1.0 / sqrt((double)fan_in));
        for (int32_t i = 0; i < len; i++) {
            row[i] = r == t->zero_row ? 0.0f : sd * approx_normal(rng);
        }
        return;
    }
    case FILL_ENC_POS: {
        /* whisper.model.sinusoids: [sin(t * inv_timescale) | cos(t * inv_timescale)]. */
        const int32_t half = len / 2;
        const double inc = log(10000.0) / (half - 1);
        for (int32_t i = 0; i < half; i++) {
            const double x = r * exp(-inc * i);
            row[i] = (float)sin(x);
            row[half + i] = (float)cos(x);
        }
        return;
    }
    case FILL_DEC_POS:
        for (int32_t i = 0; i < len; i++) {
            row[i] = (float)DEC_POS_SD * approx_normal(rng);
        }
        row[clock] = (float)(decoder_residual_sd(m) * fmin(r / CLOCK_MID_POS, CLOCK_CAP));
        return;
    case FILL_DEC_LN:
        for (int32_t i = 0; i < len; i++) {
            row[i] = (float)DEC_LN_GAIN;
        }
        row[clock] = 1.0f;
        return;
    case FILL_TOKEN_EMBD: {
        /* EOT is the clock channel alone. The multilingual vocabulary's empty-string token is 0
         * so that it never wins (it would print nothing, forever). */
        const float sd = (float)(TEXT_LOGIT_SD / DEC_LN_GAIN / sqrt((double)len));
        const int silent = r == token_eot(m) || (is_multilingual(m) && r == 50256);
        for (int32_t i = 0; i < len; i++) {
            row[i] = silent ? 0.0f : sd * approx_normal(rng);
        }
        row[clock] = r == token_eot(m) ? (float)TEXT_LOGIT_MAX : 0.0f;
        return;
    }
    }
}

static void write_tensor(writer_t *w, const model_def_t *m, const tensor_spec_t *t, uint64_t seed,
                         float *row)
{
    const size_t name_len = strlen(t->name);
    const int32_t n_rows = t->ne[1] * t->ne[2];
    const int32_t len = t->ne[0];
    uint64_t rng = seed ^ fnv1a64(t->name);

    put_i32(w, t->n_dims);
    put_i32(w, (int32_t)name_len);
    put_i32(w, t->f16 ? 1 : 0); /* GGML_TYPE_F16 : GGML_TYPE_F32 */
    for (int32_t d = 0; d < t->n_dims; d++) {
        put_i32(w, t->ne[d]);
    }
    put_bytes(w, t->name, name_len);
    for (int32_t r = 0; r < n_rows && !w->err; r++) {
        fill_row(m, t, r, &rng, row);
        unsigned char *p = writer_reserve(w, (size_t)len * (t->f16 ? 2 : 4));
        for (int32_t i = 0; i < len; i++) {
            if (t->f16) {
                const uint16_t h = f32_to_f16(row[i]);
                *p++ = (unsigned char)h;
                *p++ = (unsigned char)(h >> 8);
            } else {
                const uint32_t u = f32_bits(row[i]);
                *p++ = (unsigned char)u;
                *p++ = (unsigned char)(u >> 8);
                *p++ = (unsigned char)(u >> 16);
                *p++ = (unsigned char)(u >> 24);
            }
        }
    }
}

static uint64_t model_file_bytes(const model_def_t *m, int f16)
{
    uint64_t bytes = 4 + 11 * 4 + 8 + (uint64_t)m->n_mels * N_FFT_BINS * 4 + 4;
    char text[8];
    spec_list_t l = build_specs(m, f16);

    for (int32_t id = 0; id < file_vocab_count(m); id++) {
        bytes += 4 + token_text(m, id, text);
    }
    for (size_t i = 0; i < l.n; i++) {
        bytes += spec_file_bytes(&l.v[i]);
    }
    free(l.v);
    return bytes;
}

/* ---- files ---------------------------------------------------------------------------------- */

/* The temporary file being written, for the signal handler to remove. */
static char g_tmp_path[4096];
static volatile sig_atomic_t g_tmp_live;

static void on_fatal_signal(int sig)
{
    if (g_tmp_live) {
        unlink(g_tmp_path);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signal_handlers(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaction(sigs[i], &sa, NULL);
    }
}

/* mkdir -p. Returns 0 or an errno value. */
static int make_dirs(const char *dir)
{
    char path[4096];
    struct stat st;

    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        return ENAMETOOLONG;
    }
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') {
            continue;
        }
        const char saved = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            return errno;
        }
        *p = saved;
        if (saved == '\0') {
            break;
        }
    }
    if (stat(path, &st) != 0) {
        return errno;
    }
    return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

static void dir_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');

    if (!slash) {
        snprintf(out, cap, ".");
    } else if (slash == path) {
        snprintf(out, cap, "/");
    } else {
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes the whole model to `tmp`; returns 0 or an errno value (the file is left for the caller
 * to remove). */
static int write_model_file(const char *tmp, const model_def_t *m, int f16, uint64_t seed)
{
    writer_t w = {0};
    spec_list_t l = build_specs(m, f16);
    float *row = malloc(4 * (size_t)m->n_state * sizeof(float));
    int err = 0;

    w.buf = malloc(WRITE_BUF_BYTES);
    if (!row || !w.buf) {
        fprintf(stderr, "gen-test-model: out of memory\n");
        abort();
    }
    w.f = fopen(tmp, "wb");
    if (!w.f) {
        err = errno;
        goto fail_open;
    }
    setvbuf(w.f, NULL, _IONBF, 0); /* w.buf is the buffer */

    write_header(&w, m, f16);
    for (size_t i = 0; i < l.n && !w.err; i++) {
        write_tensor(&w, m, &l.v[i], seed, row);
    }
    writer_flush(&w);
    err = w.err;
    /* A full disk may only show at fflush, fsync or fclose (delayed allocation, NFS). */
    if (!err && fflush(w.f) != 0) {
        err = errno ? errno : EIO;
    }
    if (!err && fsync(fileno(w.f)) != 0) {
        err = errno;
    }
    if (fclose(w.f) != 0 && !err) {
        err = errno ? errno : EIO;
    }
fail_open:
    free(w.buf);
    free(row);
    free(l.v);
    return err;
}

typedef struct {
    const char *root;
    const char *out;
    int f16;
    int have_seed;
    uint64_t seed;
    int force;
    int quiet;
} options_t;

static int generate(const options_t *o, const model_def_t *m)
{
    char path[4096], dir[4096];
    struct stat st;
    struct statvfs vfs;
    const uint64_t need = model_file_bytes(m, o->f16);
    const uint64_t seed = o->have_seed ? o->seed : fnv1a64(m->name);
    int n, err;

    n = o->out ? snprintf(path, sizeof path, "%s", o->out)
               : snprintf(path, sizeof path, "%s/ggml-%s.bin", o->root, m->name);
    if (n < 0 || n >= (int)sizeof path - 32) {
        fprintf(stderr, "gen-test-model: path too long\n");
        return EXIT_FAIL;
    }
    if (stat(path, &st) == 0 && !o->force) {
        if (!o->quiet) {
            printf("%s: exists (%jd bytes), skipped; --force rewrites it\n", path,
                   (intmax_t)st.st_size);
        }
        return EXIT_OK;
    }
    dir_of(path, dir, sizeof dir);
    err = make_dirs(dir);
    if (err) {
        fprintf(stderr, "gen-test-model: cannot create directory %s: %s\n", dir, strerror(err));
        return EXIT_FAIL;
    }
    if (statvfs(dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < need) {
        fprintf(stderr, "gen-test-model: %s needs %" PRIu64 " bytes, %s has %" PRIu64 " free\n",
                path, need, dir, (uint64_t)vfs.f_bavail * vfs.f_frsize);
        return EXIT_FAIL;
    }

    n = snprintf(g_tmp_path, sizeof g_tmp_path, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || n >= (int)sizeof g_tmp_path) {
        fprintf(stderr, "gen-test-model: path too long\n");
        return EXIT_FAIL;
    }
    g_tmp_live = 1;
    const double t0 = now_s();
    err = write_model_file(g_tmp_path, m, o->f16, seed);
    if (!err && rename(g_tmp_path, path) != 0) {
        err = errno;
    }
    if (err) {
        unlink(g_tmp_path);
        g_tmp_live = 0;
        fprintf(stderr, "gen-test-model: cannot write %s: %s (nothing was left behind)\n", path,
                strerror(err));
        return EXIT_FAIL;
    }
    g_tmp_live = 0;
    /* Make the rename itself durable; a failure here loses nothing already written. */
    const int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    if (!o->quiet) {
        printf("%s: %" PRIu64 " bytes (%s, %s, seed %" PRIu64 ") in %.1f s\n", path, need, m->name,
               o->f16 ? "f16" : "f32", seed, now_s() - t0);
    }
    return EXIT_OK;
}

/* ---- command line --------------------------------------------------------------------------- */

static void list_models(FILE *f, int f16)
{
    fprintf(f, "%-16s %7s %6s %5s %6s %6s %5s %12s\n", "name", "n_vocab", "state", "heads", "enc_L",
            "dec_L", "mels", "bytes");
    for (size_t i = 0; i < N_MODELS; i++) {
        const model_def_t *m = &MODELS[i];
        fprintf(f, "%-16s %7d %6d %5d %6d %6d %5d %12" PRIu64 "\n", m->name, m->n_vocab, m->n_state,
                m->n_head, m->n_audio_layer, m->n_text_layer, m->n_mels, model_file_bytes(m, f16));
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: gen-test-model [--root DIR] [--out FILE] [--ftype f16|f32] [--seed N]\n"
               "                      [--force] [--quiet] NAME...\n"
               "       gen-test-model --list\n"
               "\n"
               "Writes random-weight Whisper models in whisper.cpp's ggml format, with the real\n"
               "models' shapes, to DIR/ggml-NAME.bin. THE WEIGHTS CARRY NO MEANING: the files are\n"
               "for tests and benchmarks of the engine, never for transcription.\n"
               "\n"
               "  --root DIR     output folder (default $STT_MODEL_DIR, else\n"
               "                 ${XDG_CACHE_HOME:-$HOME/.cache}/stt-server/models)\n"
               "  --out FILE     output file (one NAME only)\n"
               "  --ftype T      f16 (default, like the published files) or f32\n"
               "  --seed N       seed (default: derived from NAME; same seed, same bytes)\n"
               "  --force        rewrite a file that exists (default: skip it)\n"
               "  --quiet        print only errors\n"
               "  --list         list the model names, shapes and file sizes\n");
}

static const model_def_t *find_model(const char *name)
{
    for (size_t i = 0; i < N_MODELS; i++) {
        if (strcmp(MODELS[i].name, name) == 0) {
            return &MODELS[i];
        }
    }
    return NULL;
}

static int default_root(char *out, size_t cap)
{
    const char *env = getenv("STT_MODEL_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;

    if (env && *env) {
        n = snprintf(out, cap, "%s", env);
    } else if (xdg && *xdg) {
        n = snprintf(out, cap, "%s/stt-server/models", xdg);
    } else if (home && *home) {
        n = snprintf(out, cap, "%s/.cache/stt-server/models", home);
    } else {
        fprintf(stderr, "gen-test-model: no --root, and none of STT_MODEL_DIR, XDG_CACHE_HOME, "
                        "HOME is set\n");
        return -1;
    }
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"root", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},
        {"ftype", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'},
        {"force", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"list", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    options_t o = {.f16 = 1};
    char root[4096];
    int list = 0, c, rc = EXIT_OK;

    while ((c = getopt_long(argc, argv, "r:o:t:s:fqlh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            o.root = optarg;
            break;
        case 'o':
            o.out = optarg;
            break;
        case 't':
            if (strcmp(optarg, "f16") != 0 && strcmp(optarg, "f32") != 0) {
                fprintf(stderr, "gen-test-model: --ftype must be f16 or f32\n");
                return EXIT_USAGE;
            }
            o.f16 = strcmp(optarg, "f16") == 0;
            break;
        case 's': {
            char *end;
            errno = 0;
            o.seed = strtoull(optarg, &end, 0);
            if (errno || end == optarg || *end || optarg[0] == '-') {
                fprintf(stderr, "gen-test-model: --seed needs a non-negative integer\n");
                return EXIT_USAGE;
            }
            o.have_seed = 1;
            break;
        }
        case 'f':
            o.force = 1;
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'l':
            list = 1;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (list) {
        list_models(stdout, o.f16);
        return EXIT_OK;
    }
    if (optind == argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (o.out && argc - optind > 1) {
        fprintf(stderr, "gen-test-model: --out takes one model name\n");
        return EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        if (!find_model(argv[i])) {
            fprintf(stderr, "gen-test-model: unknown model '%s'; known models:\n", argv[i]);
            list_models(stderr, o.f16);
            return EXIT_USAGE;
        }
    }
    if (!o.root && !o.out) {
        if (default_root(root, sizeof root) != 0) {
            return EXIT_USAGE;
        }
        o.root = root;
    }
    install_signal_handlers();
    for (int i = optind; i < argc; i++) {
        if (generate(&o, find_model(argv[i])) != EXIT_OK) {
            rc = EXIT_FAIL;
        }
    }
    return rc;
}
