/* Silero VAD v6 forward pass (stt/silero.h).
 *
 * The network, as the silero-vad package's TinySileroVAD (tinygrad_model.py) defines it over the
 * same safetensors file, for one 640-sample input x (see the framings in silero.h):
 *   s = stft_conv(x)            258 x 4: kernel 256, stride 128, no bias (rows 0..128 real,
 *                               129..257 imaginary parts of 129 bins)
 *   m = sqrt(re^2 + im^2)       129 x 4
 *   e = relu(conv1(m))          128 x 4   kernel 3, padding 1, stride 1
 *   e = relu(conv2(e))           64 x 2   stride 2
 *   e = relu(conv3(e))           64 x 1   stride 2
 *   e = relu(conv4(e))          128 x 1
 *   h, c = lstm_cell(e, (h, c)) 128       gates i, f, g, o (PyTorch order)
 *   p = sigmoid(final_conv(relu(h)))
 *
 * Layout and speed. The STFT is an FFT (the basis is checked at load to be a windowed DFT).
 * Everything else is matrix-vector products over half-float weights (490 KiB, streamed from the
 * L2 cache once per chunk: that bandwidth, not arithmetic, bounds the pass): convolution weights
 * are reordered at load from [out][in][tap] to [tap][out][in] and activations kept time-major
 * ([t][channel]), so each tap is one product applied to every time step that uses it; the LSTM's
 * two matrices are joined into one [512][256] over [x; h] with the two biases summed. The kernel
 * is AVX2+FMA+F16C where the CPU has it (chosen at load), portable C otherwise. About 27 us per
 * chunk on the development VM (8 times the energy detector). Removing the STFT product and
 * halving the weights took it from 50 us. */
#include "stt/silero.h"

#include "stt/error.h"
#include "stt/log.h"
#include "stt/safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_FFT 256
#define HOP 128
#define PAD 64
#define BINS 129
#define FRAMES 4
#define INPUT (STT_SILERO_CHUNK_SAMPLES + 2 * PAD) /* 640 */
#define HID STT_SILERO_HIDDEN
#define GATES (4 * HID)
#define TAPS 3

_Static_assert((INPUT - N_FFT) / HOP + 1 == FRAMES, "four STFT frames per chunk");
_Static_assert(PAD == STT_SILERO_CONTEXT_SAMPLES, "the context is the left padding");

/* Weights are kept as IEEE half floats (round to nearest even at load, as whisper.cpp's
 * converter stores them): the forward pass reads every weight once per chunk, so it is bound by
 * how fast they stream from the L2 cache, and halves stream twice as fast. Sums are float. Rows
 * are padded with zeros to a multiple of 16 columns (conv1's 129 inputs become 144). */
typedef struct {
    int cin, cin_pad, cout, stride;
    uint16_t *w; /* [TAPS][cout][cin_pad] */
    float *b;    /* [cout] */
} conv_t;

struct stt_silero_model {
    float window[N_FFT];             /* the STFT's analysis window (row 0 of the basis) */
    float tw_re[N_FFT / 2], tw_im[N_FFT / 2]; /* FFT twiddles e^(-2 pi i k / N_FFT) */
    uint8_t bitrev[N_FFT];
    conv_t conv[4];  /* 129 -> 128 -> 64 -> 64 -> 128 */
    uint16_t *lstm_w; /* [GATES][2 * HID]: weight_ih | weight_hh */
    float *lstm_b;    /* [GATES]: bias_ih + bias_hh */
    float *final_w;   /* [HID] */
    float final_b;
    size_t bytes;
    /* the kernel for this CPU (below) */
    void (*matvec)(const uint16_t *w, int rows, int cols, const float *const *x, float *const *y,
                   int nv);
};

static const struct {
    int cin, cout, stride;
} conv_shape[4] = {{BINS, 128, 1}, {128, 64, 2}, {64, 64, 2}, {64, HID, 1}};

/* The F32 tensor `name` of exactly the given shape (dims, then -1 to end the list). */
static const float *tensor(const stt_safetensors_t *st, const char *name, char *err,
                           size_t err_len, int *rc, ...)
{
    if (*rc != 0)
        return NULL;
    const stt_st_tensor_t *t = stt_safetensors_find(st, name);
    if (!t) {
        *rc = stt_error_fmt(err, err_len, STT_EPARSE, "no tensor \"%s\" (not a Silero VAD v6 file)", name);
        return NULL;
    }
    va_list ap;
    va_start(ap, rc);
    int nd = 0, ok = t->dtype == STT_ST_F32;
    for (int d; (d = va_arg(ap, int)) >= 0; nd++)
        ok = ok && nd < t->n_dims && t->shape[nd] == d;
    va_end(ap);
    if (!ok || nd != t->n_dims) {
        *rc = stt_error_fmt(err, err_len, STT_EPARSE,
                   "tensor \"%s\" is not F32 of Silero VAD v6's shape (not a 16 kHz v6 file)",
                   name);
        return NULL;
    }
    return (const float *)t->data;
}

/* Little-endian float32 from possibly unaligned bytes. */
static float le_f32(const float *p, size_t i)
{
    const uint8_t *b = (const uint8_t *)(p + i);
    uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                 (uint32_t)b[3] << 24;
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

static float *copy_f32(const float *src, size_t n)
{
    float *d = stt_malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        d[i] = le_f32(src, i);
    return d;
}

uint16_t stt_f16_from_f32(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof(x));
    uint32_t sign = (x >> 16) & 0x8000u, mant = x & 0x7fffffu;
    int exp = (int)((x >> 23) & 0xff);
    if (exp == 0xff) /* inf, nan (kept a nan) */
        return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    exp -= 127 - 15;
    if (exp >= 0x1f)
        return (uint16_t)(sign | 0x7c00u); /* overflow: inf */
    if (exp <= 0) {
        /* Subnormal half (or zero): shift the full mantissa, round to nearest even. */
        if (exp < -10)
            return (uint16_t)sign;
        mant |= 0x800000u;
        int shift = 14 - exp;
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = (uint32_t)exp << 10 | mant >> 13, rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
        h++; /* may carry into the exponent, and up to inf: both right */
    return (uint16_t)(sign | h);
}

float stt_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
    uint32_t x;
    if (exp == 0x1f) {
        x = sign | 0x7f800000u | mant << 13;
    } else if (exp == 0) {
        float f = (float)mant * (1.0f / 16777216.0f); /* mant * 2^-24 */
        return sign ? -f : f;
    } else {
        x = sign | (exp + 127 - 15) << 23 | mant << 13;
    }
    float f;
    memcpy(&f, &x, sizeof(f));
    return f;
}

/* The kernels: for v < nv (at most MAX_VEC), y[v][r] += W[r] . x[v] for r < rows; W is
 * [rows][cols] in halves, cols a multiple of 16. Several vectors per call let one load of a
 * weight serve every time step that uses it (conv1's taps serve four). */
#define MAX_VEC 4

static void matvec_generic(const uint16_t *w, int rows, int cols, const float *const *x,
                           float *const *y, int nv)
{
    for (int r = 0; r < rows; r++) {
        const uint16_t *row = w + (size_t)r * cols;
        for (int v = 0; v < nv; v++) {
            float s[4] = {0};
            for (int i = 0; i < cols; i += 4)
                for (int k = 0; k < 4; k++)
                    s[k] += stt_f16_to_f32(row[i + k]) * x[v][i + k];
            y[v][r] += (s[0] + s[2]) + (s[1] + s[3]);
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_KERNEL 1
__attribute__((target("avx2,fma,f16c"))) static float hsum256(__m256 s)
{
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}

__attribute__((target("avx2,fma,f16c"))) static void matvec_avx2(const uint16_t *w, int rows,
                                                                  int cols, const float *const *x,
                                                                  float *const *y, int nv)
{
    for (int r = 0; r < rows; r++) {
        const uint16_t *row = w + (size_t)r * cols;
        __m256 s[MAX_VEC][2];
        for (int v = 0; v < MAX_VEC; v++)
            s[v][0] = s[v][1] = _mm256_setzero_ps();
        for (int i = 0; i < cols; i += 16) {
            __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + i)));
            __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + i + 8)));
            for (int v = 0; v < nv; v++) {
                s[v][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[v] + i), s[v][0]);
                s[v][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x[v] + i + 8), s[v][1]);
            }
        }
        for (int v = 0; v < nv; v++)
            y[v][r] += hsum256(_mm256_add_ps(s[v][0], s[v][1]));
    }
}
#endif

static int pad16(int n)
{
    return (n + 15) & ~15;
}

/* The STFT basis must be a windowed DFT (rows f: w[n] cos(2 pi f n / N), rows BINS + f:
 * -w[n] sin(...)), which Silero's is to 1e-7: the forward pass then computes it with an FFT,
 * 30 times fewer operations than the 258 x 256 product. */
static int load_stft(stt_silero_model_t *m, const float *basis, char *err, size_t err_len)
{
    const double two_pi = 6.283185307179586;
    for (int n = 0; n < N_FFT; n++)
        m->window[n] = le_f32(basis, (size_t)n);
    double worst = 0;
    for (int f = 0; f < BINS; f++)
        for (int n = 0; n < N_FFT; n++) {
            double ph = two_pi * (double)((f * n) % N_FFT) / N_FFT;
            double re = m->window[n] * cos(ph), im = -m->window[n] * sin(ph);
            double d1 = fabs(le_f32(basis, (size_t)f * N_FFT + n) - re);
            double d2 = fabs(le_f32(basis, (size_t)(BINS + f) * N_FFT + n) - im);
            worst = d1 > worst ? d1 : (d2 > worst ? d2 : worst);
        }
    if (worst > 1e-5)
        return stt_error_fmt(err, err_len, STT_EPARSE,
                    "stft_conv.weight is not a windowed DFT (off by %.3g): not Silero VAD v6",
                    worst);
    for (int k = 0; k < N_FFT / 2; k++) {
        m->tw_re[k] = (float)cos(two_pi * k / N_FFT);
        m->tw_im[k] = (float)-sin(two_pi * k / N_FFT);
    }
    for (int i = 0; i < N_FFT; i++) {
        int r = 0;
        for (int b = 0; b < 8; b++)
            r |= ((i >> b) & 1) << (7 - b);
        m->bitrev[i] = (uint8_t)r;
    }
    return 0;
}

_Static_assert(N_FFT == 256, "bitrev is built for 8 bits");

int stt_silero_model_load_buffer(const uint8_t *buf, size_t n, stt_silero_model_t **out,
                                 char *err, size_t err_len)
{
    *out = NULL;
    stt_safetensors_t st;
    int rc = stt_safetensors_parse(&st, buf, n, err, err_len);
    if (rc != 0)
        return rc;
    const float *stft = tensor(&st, "stft_conv.weight", err, err_len, &rc, 2 * BINS, 1, N_FFT, -1);
    const float *cw[4], *cb[4];
    for (int l = 0; l < 4; l++) {
        char wn[32], bn[32];
        snprintf(wn, sizeof(wn), "conv%d.weight", l + 1);
        snprintf(bn, sizeof(bn), "conv%d.bias", l + 1);
        cw[l] = tensor(&st, wn, err, err_len, &rc, conv_shape[l].cout, conv_shape[l].cin, TAPS,
                       -1);
        cb[l] = tensor(&st, bn, err, err_len, &rc, conv_shape[l].cout, -1);
    }
    const float *wih = tensor(&st, "lstm_cell.weight_ih", err, err_len, &rc, GATES, HID, -1);
    const float *whh = tensor(&st, "lstm_cell.weight_hh", err, err_len, &rc, GATES, HID, -1);
    const float *bih = tensor(&st, "lstm_cell.bias_ih", err, err_len, &rc, GATES, -1);
    const float *bhh = tensor(&st, "lstm_cell.bias_hh", err, err_len, &rc, GATES, -1);
    const float *fw = tensor(&st, "final_conv.weight", err, err_len, &rc, 1, HID, 1, -1);
    const float *fb = tensor(&st, "final_conv.bias", err, err_len, &rc, 1, -1);
    stt_silero_model_t *m = NULL;
    if (rc == 0) {
        m = stt_calloc(1, sizeof(*m));
        rc = load_stft(m, stft, err, err_len);
    }
    if (rc != 0) {
        free(m);
        stt_safetensors_dispose(&st);
        return rc;
    }
    m->bytes = sizeof(*m);
    for (int l = 0; l < 4; l++) {
        conv_t *c = &m->conv[l];
        c->cin = conv_shape[l].cin;
        c->cin_pad = pad16(c->cin);
        c->cout = conv_shape[l].cout;
        c->stride = conv_shape[l].stride;
        size_t nw = (size_t)TAPS * c->cout * c->cin_pad;
        c->w = stt_calloc(nw, sizeof(uint16_t));
        for (int o = 0; o < c->cout; o++)
            for (int i = 0; i < c->cin; i++)
                for (int k = 0; k < TAPS; k++)
                    c->w[((size_t)k * c->cout + o) * c->cin_pad + i] =
                        stt_f16_from_f32(le_f32(cw[l], ((size_t)o * c->cin + i) * TAPS + k));
        c->b = copy_f32(cb[l], (size_t)c->cout);
        m->bytes += nw * sizeof(uint16_t) + (size_t)c->cout * sizeof(float);
    }
    m->lstm_w = stt_malloc((size_t)GATES * 2 * HID * sizeof(uint16_t));
    m->lstm_b = stt_malloc(GATES * sizeof(float));
    for (int r = 0; r < GATES; r++) {
        for (int i = 0; i < HID; i++) {
            m->lstm_w[(size_t)r * 2 * HID + i] = stt_f16_from_f32(le_f32(wih, (size_t)r * HID + i));
            m->lstm_w[(size_t)r * 2 * HID + HID + i] =
                stt_f16_from_f32(le_f32(whh, (size_t)r * HID + i));
        }
        m->lstm_b[r] = le_f32(bih, r) + le_f32(bhh, r);
    }
    m->final_w = copy_f32(fw, HID);
    m->final_b = le_f32(fb, 0);
    m->bytes += (size_t)GATES * 2 * HID * sizeof(uint16_t) + (GATES + HID) * sizeof(float);
    m->matvec = matvec_generic;
#ifdef HAVE_X86_KERNEL
    __builtin_cpu_init();
    /* Every AVX2 CPU has F16C. STT_SILERO_GENERIC=1 forces the portable kernel (its test). */
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        !getenv("STT_SILERO_GENERIC"))
        m->matvec = matvec_avx2;
#endif
    stt_safetensors_dispose(&st);
    *out = m;
    return 0;
}

int stt_silero_model_load(const char *path, stt_silero_model_t **out, char *err, size_t err_len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return stt_error_fmt(err, err_len, errno == ENOENT ? STT_ENOENT : STT_EIO,
                    "Silero VAD model %s: %s (scripts/fetch-silero.sh fetches it)", path,
                    strerror(errno));
    /* The weights file is 1.2 MB; anything past 64 MiB is not one. */
    const long max = 64L << 20;
    uint8_t *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n <= max &&
        fseek(f, 0, SEEK_SET) == 0) {
        buf = stt_malloc(n ? (size_t)n : 1);
        if (fread(buf, 1, (size_t)n, f) != (size_t)n)
            n = -1;
    }
    fclose(f);
    int rc;
    if (n < 0 || n > max) {
        rc = stt_error_fmt(err, err_len, n > max ? STT_ETOOBIG : STT_EIO,
                  "Silero VAD model %s: cannot read it%s", path,
                  n > max ? " (larger than 64 MiB)" : "");
    } else {
        char why[200] = "";
        rc = stt_silero_model_load_buffer(buf, (size_t)n, out, why, sizeof(why));
        if (rc != 0)
            stt_error_fmt(err, err_len, rc, "Silero VAD model %s: %s", path, why);
    }
    free(buf);
    return rc;
}

void stt_silero_model_destroy(stt_silero_model_t *m)
{
    if (!m)
        return;
    for (int l = 0; l < 4; l++) {
        free(m->conv[l].w);
        free(m->conv[l].b);
    }
    free(m->lstm_w);
    free(m->lstm_b);
    free(m->final_w);
    free(m);
}

size_t stt_silero_model_bytes(const stt_silero_model_t *m)
{
    return m->bytes;
}

void stt_silero_init(stt_silero_t *s, const stt_silero_model_t *m, stt_silero_framing_t framing)
{
    memset(s, 0, sizeof(*s));
    s->m = m;
    s->framing = framing;
}

void stt_silero_reset(stt_silero_t *s)
{
    stt_silero_init(s, s->m, s->framing);
}

/* ---- forward pass ---- */

static float sigmoidf(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* tanh through expf: libm's tanhf was a seventh of the forward pass; this is within 1e-7. */
static float tanh_f(float x)
{
    return 1.0f - 2.0f / (expf(2.0f * x) + 1.0f);
}

/* In-place radix-2 FFT of N_FFT complex points (input in bit-reversed order). */
static void fft(const stt_silero_model_t *m, float *re, float *im)
{
    for (int len = 2; len <= N_FFT; len <<= 1) {
        int half = len >> 1, step = N_FFT / len;
        for (int i = 0; i < N_FFT; i += len)
            for (int j = 0; j < half; j++) {
                float wr = m->tw_re[j * step], wi = m->tw_im[j * step];
                int a = i + j, b = a + half;
                float tr = re[b] * wr - im[b] * wi, ti = re[b] * wi + im[b] * wr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
    }
}

/* Magnitudes of the 129 bins of two windowed frames at once: frame p in the real part, frame q
 * in the imaginary part of one complex FFT Z; then P[k] = (Z[k] + conj Z[N-k]) / 2 and
 * Q[k] = (Z[k] - conj Z[N-k]) / 2i. mag is [frame][cin_pad of conv1]. */
static void stft_pair(const stt_silero_model_t *m, const float *p, const float *q, float *mp,
                      float *mq)
{
    float re[N_FFT], im[N_FFT];
    for (int n = 0; n < N_FFT; n++) {
        re[m->bitrev[n]] = p[n] * m->window[n];
        im[m->bitrev[n]] = q[n] * m->window[n];
    }
    fft(m, re, im);
    for (int k = 0; k < BINS; k++) {
        int nk = (N_FFT - k) & (N_FFT - 1);
        float pr = 0.5f * (re[k] + re[nk]), pi = 0.5f * (im[k] - im[nk]);
        float qr = 0.5f * (im[k] + im[nk]), qi = -0.5f * (re[k] - re[nk]);
        mp[k] = sqrtf(pr * pr + pi * pi);
        mq[k] = sqrtf(qr * qr + qi * qi);
    }
}

/* y[t][o] = relu(b[o] + sum over taps k of W_k[o] . x[t * stride + k - 1]); x is
 * [tin][cin_pad] (inputs outside 0..tin-1 are the zero padding, padded columns are 0), y is
 * [tout][cout]. Each tap's matrix is applied to every time step that uses it in one call.
 * Returns tout. */
static int conv_relu(const stt_silero_model_t *m, const conv_t *c, const float *x, int tin,
                     float *y)
{
    int tout = (tin - 1) / c->stride + 1;
    for (int t = 0; t < tout; t++)
        memcpy(y + (size_t)t * c->cout, c->b, (size_t)c->cout * sizeof(float));
    for (int k = 0; k < TAPS; k++) {
        const float *xs[MAX_VEC];
        float *ys[MAX_VEC];
        int nv = 0;
        for (int t = 0; t < tout; t++) {
            int src = t * c->stride + k - 1;
            if (src >= 0 && src < tin) {
                xs[nv] = x + (size_t)src * c->cin_pad;
                ys[nv++] = y + (size_t)t * c->cout;
            }
        }
        if (nv)
            m->matvec(c->w + (size_t)k * c->cout * c->cin_pad, c->cout, c->cin_pad, xs, ys, nv);
    }
    for (int i = 0; i < tout * c->cout; i++)
        y[i] = y[i] > 0 ? y[i] : 0;
    return tout;
}

_Static_assert(FRAMES <= MAX_VEC, "one kernel call per tap");
_Static_assert(128 % 16 == 0 && 64 % 16 == 0, "conv2..4 inputs need no padding");

static float forward(const stt_silero_model_t *m, const float *x, float *h, float *c)
{
    enum { MAG = 144 }; /* conv1's padded input width */
    _Static_assert(MAG >= BINS && MAG % 16 == 0, "conv1 input row");
    float mag[FRAMES * MAG] = {0}, a[FRAMES * 128], b[FRAMES * 128];
    for (int t = 0; t < FRAMES; t += 2)
        stft_pair(m, x + t * HOP, x + (t + 1) * HOP, mag + t * MAG, mag + (t + 1) * MAG);
    int t = conv_relu(m, &m->conv[0], mag, FRAMES, a);
    t = conv_relu(m, &m->conv[1], a, t, b);
    t = conv_relu(m, &m->conv[2], b, t, a);
    conv_relu(m, &m->conv[3], a, t, b); /* one frame of HID features in b */

    float z[2 * HID], g[GATES];
    memcpy(z, b, HID * sizeof(float));
    memcpy(z + HID, h, HID * sizeof(float));
    memcpy(g, m->lstm_b, sizeof(g));
    const float *zs[1] = {z};
    float *gs[1] = {g};
    m->matvec(m->lstm_w, GATES, 2 * HID, zs, gs, 1);
    float out = m->final_b;
    for (int i = 0; i < HID; i++) {
        float ig = sigmoidf(g[i]), fg = sigmoidf(g[HID + i]);
        float gg = tanh_f(g[2 * HID + i]), og = sigmoidf(g[3 * HID + i]);
        c[i] = fg * c[i] + ig * gg;
        h[i] = og * tanh_f(c[i]);
        out += m->final_w[i] * (h[i] > 0 ? h[i] : 0);
    }
    return sigmoidf(out);
}

float stt_silero_process_f32(stt_silero_t *s, const float *chunk)
{
    enum { N = STT_SILERO_CHUNK_SAMPLES };
    float x[INPUT];
    memcpy(x + PAD, chunk, N * sizeof(float));
    if (s->framing == STT_SILERO_CONTEXT) {
        /* [context | chunk | reflection of the last 64 of those, without the edge sample]. */
        memcpy(x, s->context, PAD * sizeof(float));
        for (int j = 0; j < PAD; j++)
            x[PAD + N + j] = x[PAD + N - 2 - j];
        memcpy(s->context, chunk + N - PAD, PAD * sizeof(float));
    } else {
        for (int j = 0; j < PAD; j++) {
            x[PAD - 1 - j] = chunk[j + 1];
            x[PAD + N + j] = chunk[N - 2 - j];
        }
    }
    return forward(s->m, x, s->h, s->c);
}

float stt_silero_process(stt_silero_t *s, const int16_t *chunk)
{
    float f[STT_SILERO_CHUNK_SAMPLES];
    for (int i = 0; i < STT_SILERO_CHUNK_SAMPLES; i++)
        f[i] = (float)chunk[i] * (1.0f / 32768.0f);
    return stt_silero_process_f32(s, f);
}

void stt_silero_skip(stt_silero_t *s, const int16_t *chunk)
{
    const int16_t *tail = chunk + STT_SILERO_CHUNK_SAMPLES - STT_SILERO_CONTEXT_SAMPLES;
    for (int i = 0; i < STT_SILERO_CONTEXT_SAMPLES; i++)
        s->context[i] = (float)tail[i] * (1.0f / 32768.0f);
}
