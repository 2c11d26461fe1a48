/* Resampler tests: tone SNR at 8 / 44.1 / 48 kHz -> 16 kHz fed in irregular chunks, exact output
 * length over the whole stream, a mid-stream rate change, odd-aligned input, clipping without
 * wraparound, and the equal-rate copy path.
 *
 * SNR is measured against the ideal tone at 16 kHz: a least-squares fit of a*sin + b*cos + c at
 * the known frequency (which absorbs the unknown filter delay as a phase) over the output after
 * the filter has settled; everything the fit leaves over is counted as noise + distortion. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/error.h"
#include "stt/resample.h"

#define OUT_RATE 16000
/* A 0.5 FS tone quantised to int16 cannot exceed ~92 dB SNR; quality-4 speexdsp reaches
 * 90.7-92.8 dB on these tones (printed by the tests), i.e. it is quantisation-limited. 80 dB keeps
 * ~10 dB of margin and would still catch a lost or repeated sample (which costs far more). */
#define MIN_SNR_DB 80.0
/* Settling time skipped at both ends of a segment before fitting: the longest filter here
 * (48 kHz -> 16 kHz at quality 4) is ~240 taps = 5 ms; 20 ms is ample. */
#define SETTLE_OUT_SAMPLES 320

static const size_t chunk_pattern[] = {1024, 37, 371, 1, 512, 4095, 160, 2};
#define N_PATTERN (sizeof(chunk_pattern) / sizeof(chunk_pattern[0]))

typedef struct {
    int16_t *buf;
    size_t n;
    size_t cap;
} pcm_t;

static void pcm_push(pcm_t *p, const int16_t *s, size_t n)
{
    if (p->n + n > p->cap) {
        p->cap = (p->n + n) * 2;
        p->buf = realloc(p->buf, p->cap * sizeof(int16_t));
        assert_non_null(p->buf);
    }
    memcpy(p->buf + p->n, s, n * sizeof(int16_t));
    p->n += n;
}

/* Little-endian bytes of a tone, phase-continuous from sample index `first`. */
static uint8_t *make_tone_le(int rate, double hz, double amp, size_t first, size_t n)
{
    uint8_t *b = malloc(2 * n + 1);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        double t = (double)(first + i) / rate;
        long v = lrint(amp * 32767.0 * sin(2.0 * M_PI * hz * t));
        uint16_t u = (uint16_t)(int16_t)v;
        b[2 * i] = (uint8_t)(u & 0xff);
        b[2 * i + 1] = (uint8_t)(u >> 8);
    }
    return b;
}

/* Feeds n samples of `le` through r in chunks from chunk_pattern, appending to out. */
static void feed_chunked(stt_resampler_t *r, const uint8_t *le, size_t n, pcm_t *out)
{
    size_t pos = 0, k = 0;
    while (pos < n) {
        size_t c = chunk_pattern[k++ % N_PATTERN];
        if (c > n - pos)
            c = n - pos;
        size_t cap = stt_resampler_max_output(r, c);
        int16_t *tmp = malloc((cap + 1) * sizeof(int16_t));
        assert_non_null(tmp);
        size_t got = 0;
        assert_int_equal(stt_resampler_process(r, le + 2 * pos, c, tmp, cap, &got), 0);
        assert_true(got <= cap);
        pcm_push(out, tmp, got);
        free(tmp);
        pos += c;
    }
}

/* SNR in dB of x[0..n) against the best-fitting tone at hz (sample rate OUT_RATE). */
static double tone_snr_db(const int16_t *x, size_t n, double hz)
{
    /* Normal equations for [sin cos 1]; solved by Cramer's rule on the 3x3 system. */
    double m[3][3] = {{0}}, v[3] = {0};
    for (size_t i = 0; i < n; i++) {
        double w = 2.0 * M_PI * hz * (double)i / OUT_RATE;
        double f[3] = {sin(w), cos(w), 1.0};
        for (int a = 0; a < 3; a++) {
            v[a] += f[a] * x[i];
            for (int b = 0; b < 3; b++)
                m[a][b] += f[a] * f[b];
        }
    }
    double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                 m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                 m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    double c[3];
    for (int k = 0; k < 3; k++) {
        double t[3][3];
        memcpy(t, m, sizeof(t));
        for (int a = 0; a < 3; a++)
            t[a][k] = v[a];
        c[k] = (t[0][0] * (t[1][1] * t[2][2] - t[1][2] * t[2][1]) -
                t[0][1] * (t[1][0] * t[2][2] - t[1][2] * t[2][0]) +
                t[0][2] * (t[1][0] * t[2][1] - t[1][1] * t[2][0])) /
               det;
    }
    double sig = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        double w = 2.0 * M_PI * hz * (double)i / OUT_RATE;
        double fit = c[0] * sin(w) + c[1] * cos(w) + c[2];
        sig += fit * fit;
        err += (x[i] - fit) * (x[i] - fit);
    }
    if (err <= 0)
        return 200.0;
    return 10.0 * log10(sig / err);
}

static void check_tone(int in_rate, double hz)
{
    const size_t n_in = (size_t)in_rate * 2; /* 2 s */
    uint8_t *le = make_tone_le(in_rate, hz, 0.5, 0, n_in);
    stt_resampler_t *r = stt_resampler_create(in_rate, OUT_RATE, STT_RESAMPLE_QUALITY_DEFAULT);
    assert_non_null(r);
    pcm_t out = {0};
    feed_chunked(r, le, n_in, &out);

    /* No cumulative loss: the stream is exactly 2 s long at the output rate, minus at most the
     * fractional sample still inside the filter. */
    double expect = (double)n_in * OUT_RATE / in_rate;
    double diff = (double)out.n - expect;
    assert_true(fabs(diff) <= 2.0);

    assert_true(out.n > 2 * SETTLE_OUT_SAMPLES);
    double snr = tone_snr_db(out.buf + SETTLE_OUT_SAMPLES, out.n - 2 * SETTLE_OUT_SAMPLES, hz);
    printf("  %5d Hz -> 16000 Hz, %4.0f Hz tone: %zu samples (expected %.0f), SNR %.1f dB\n",
           in_rate, hz, out.n, expect, snr);
    assert_true(snr >= MIN_SNR_DB);

    stt_resampler_destroy(r);
    free(out.buf);
    free(le);
}

static void test_tone_8k(void **state)
{
    (void)state;
    check_tone(8000, 440.0);
    check_tone(8000, 1000.0);
}

static void test_tone_44k1(void **state)
{
    (void)state;
    check_tone(44100, 440.0);
    check_tone(44100, 1000.0);
}

static void test_tone_48k(void **state)
{
    (void)state;
    check_tone(48000, 440.0);
    check_tone(48000, 1000.0);
}

/* The client switches rate mid-stream: 1 s each at 8, 48, 44.1 and again 8 kHz of one
 * phase-continuous 440 Hz tone (the last switch shrinks the filter, which makes speexdsp release
 * held samples). speexdsp keeps its filter memory across set_rate and re-times it to the new rate,
 * so each switch may shift the output by up to the filter's memory (at most 5 ms here; the
 * shrinking switch stretches it by ~7 ms, allowed per switch as 80 samples) but must not drop
 * input or degrade the tone away from the switch. */
static void test_rate_change(void **state)
{
    (void)state;
    const double hz = 440.0;
    const int rates[] = {8000, 48000, 44100, 8000};
    const int n_seg = 4;
    const long max_shift = 80; /* 5 ms at 16 kHz */
    stt_resampler_t *r = stt_resampler_create(rates[0], OUT_RATE, STT_RESAMPLE_QUALITY_DEFAULT);
    assert_non_null(r);
    pcm_t out = {0};
    size_t seg_end[4];
    for (int s = 0; s < n_seg; s++) {
        if (s > 0)
            assert_int_equal(stt_resampler_set_input_rate(r, rates[s]), 0);
        assert_int_equal(stt_resampler_input_rate(r), rates[s]);
        /* Sample index at this rate that corresponds to t = s seconds. */
        uint8_t *le = make_tone_le(rates[s], hz, 0.5, (size_t)rates[s] * s, (size_t)rates[s]);
        feed_chunked(r, le, (size_t)rates[s], &out);
        free(le);
        seg_end[s] = out.n;
    }
    printf("  rate change 8k -> 48k -> 44.1k -> 8k: %zu output samples (expected 64000), "
           "segment ends %zu %zu %zu %zu\n",
           out.n, seg_end[0], seg_end[1], seg_end[2], seg_end[3]);
    for (int s = 0; s < n_seg; s++)
        assert_true(labs((long)seg_end[s] - 16000L * (s + 1)) <= max_shift * (s + 1));

    size_t seg_start = 0;
    for (int s = 0; s < n_seg; s++) {
        size_t a = seg_start + SETTLE_OUT_SAMPLES, b = seg_end[s] - SETTLE_OUT_SAMPLES;
        double snr = tone_snr_db(out.buf + a, b - a, hz);
        printf("  rate change: segment %d (%d Hz) SNR %.1f dB\n", s, rates[s], snr);
        assert_true(snr >= MIN_SNR_DB);
        seg_start = seg_end[s];
    }
    /* Nothing wild at a switch: around it the signal stays within the tone's amplitude (0.5 FS,
     * +10% for the filter transient). The re-timed memory does bend the waveform (the steepest
     * step is printed: a few times the tone's slope at an up-rate switch), which is a sub-5 ms
     * kink, not lost or invented audio. */
    const double amp = 0.5 * 32767.0;
    const double max_step = 2.0 * M_PI * hz * amp / OUT_RATE;
    for (int s = 0; s + 1 < n_seg; s++) {
        double worst_v = 0, worst_d = 0;
        for (size_t i = seg_end[s] - 320; i < seg_end[s] + 320; i++) {
            worst_v = fmax(worst_v, fabs((double)out.buf[i]));
            worst_d = fmax(worst_d, fabs((double)out.buf[i] - out.buf[i - 1]));
        }
        printf("  switch %d: peak %.3f of tone amplitude, steepest step %.2f of tone max\n", s,
               worst_v / amp, worst_d / max_step);
        assert_true(worst_v <= 1.1 * amp);
    }
    stt_resampler_destroy(r);
    free(out.buf);
}

/* The same bytes at an odd address give the same output as at an aligned one. */
static void test_unaligned_input(void **state)
{
    (void)state;
    const size_t n = 4801;
    uint8_t *le = make_tone_le(48000, 1000.0, 0.7, 0, n);
    uint8_t *odd = malloc(2 * n + 1);
    assert_non_null(odd);
    memcpy(odd + 1, le, 2 * n);

    stt_resampler_t *a = stt_resampler_create(48000, OUT_RATE, STT_RESAMPLE_QUALITY_DEFAULT);
    stt_resampler_t *b = stt_resampler_create(48000, OUT_RATE, STT_RESAMPLE_QUALITY_DEFAULT);
    size_t cap = stt_resampler_max_output(a, n);
    int16_t *oa = malloc(cap * sizeof(int16_t)), *ob = malloc(cap * sizeof(int16_t));
    assert_non_null(oa);
    assert_non_null(ob);
    size_t na = 0, nb = 0;
    assert_int_equal(stt_resampler_process(a, le, n, oa, cap, &na), 0);
    assert_int_equal(stt_resampler_process(b, odd + 1, n, ob, cap, &nb), 0);
    assert_int_equal(na, nb);
    assert_true(na >= 1590);
    assert_memory_equal(oa, ob, na * sizeof(int16_t));

    /* Equal rates copy, from an odd address too. */
    stt_resampler_t *c = stt_resampler_create(16000, OUT_RATE, STT_RESAMPLE_QUALITY_DEFAULT);
    assert_int_equal(stt_resampler_max_output(c, n), n);
    int16_t *oc = malloc(n * sizeof(int16_t));
    assert_non_null(oc);
    size_t nc = 0;
    assert_int_equal(stt_resampler_process(c, odd + 1, n, oc, n, &nc), 0);
    assert_int_equal(nc, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(oc[i], (int16_t)(uint16_t)(le[2 * i] | (le[2 * i + 1] << 8)));

    stt_resampler_destroy(a);
    stt_resampler_destroy(b);
    stt_resampler_destroy(c);
    free(oa);
    free(ob);
    free(oc);
    free(odd);
    free(le);
}

/* A full-scale square wave rings past full scale after the anti-alias filter (Gibbs); the
 * output must saturate at the int16 limits rather than wrap to the opposite sign. */
static void test_clipping(void **state)
{
    (void)state;
    const int in_rate = 48000;
    const size_t n = 48000;
    const size_t period = 96; /* 500 Hz */
    uint8_t *le = malloc(2 * n);
    assert_non_null(le);
    for (size_t i = 0; i < n; i++) {
        uint16_t u = (i % period) < period / 2 ? 0x7fff : 0x8000;
        le[2 * i] = (uint8_t)(u & 0xff);
        le[2 * i + 1] = (uint8_t)(u >> 8);
    }
    stt_resampler_t *r = stt_resampler_create(in_rate, OUT_RATE, STT_RESAMPLE_QUALITY_DEFAULT);
    pcm_t out = {0};
    feed_chunked(r, le, n, &out);

    int mx = 0, mn = 0;
    size_t flips = 0;
    for (size_t i = SETTLE_OUT_SAMPLES; i < out.n; i++) {
        mx = out.buf[i] > mx ? out.buf[i] : mx;
        mn = out.buf[i] < mn ? out.buf[i] : mn;
        if ((out.buf[i] >= 0) != (out.buf[i - 1] >= 0))
            flips++;
    }
    size_t periods = (out.n - SETTLE_OUT_SAMPLES) / 32;
    printf("  clipping: max %d min %d, %zu sign changes over %zu periods\n", mx, mn, flips,
           periods);
    /* Overshoot happened and was clamped ... */
    assert_int_equal(mx, 32767);
    assert_int_equal(mn, -32768);
    /* ... and never wrapped: a wrapped peak would add two sign changes per half-period. */
    assert_true(flips <= 2 * periods + 2);
    assert_true(flips + 2 >= 2 * periods);

    stt_resampler_destroy(r);
    free(out.buf);
    free(le);
}

static void test_bad_args(void **state)
{
    (void)state;
    assert_null(stt_resampler_create(0, OUT_RATE, 4));
    assert_null(stt_resampler_create(8000, 999, 4));
    assert_null(stt_resampler_create(192001, OUT_RATE, 4));
    assert_null(stt_resampler_create(8000, OUT_RATE, 11));
    assert_null(stt_resampler_create(8000, OUT_RATE, -1));
    stt_resampler_destroy(NULL);

    stt_resampler_t *r = stt_resampler_create(8000, OUT_RATE, 4);
    assert_non_null(r);
    assert_int_equal(stt_resampler_set_input_rate(r, 500), STT_EINVAL);
    assert_int_equal(stt_resampler_input_rate(r), 8000);

    uint8_t le[2 * 160] = {0};
    int16_t out[512];
    size_t got = 99;
    size_t need = stt_resampler_max_output(r, 160);
    assert_true(need >= 320 && need <= 512);
    /* A buffer below the documented bound is refused before anything is consumed. */
    assert_int_equal(stt_resampler_process(r, le, 160, out, need - 1, &got), STT_EINVAL);
    assert_int_equal(got, 0);
    assert_int_equal(stt_resampler_process(r, le, 160, out, need, &got), 0);
    assert_true(got >= 319 && got <= 321);
    assert_int_equal(stt_resampler_process(r, le, 0, out, need, &got), 0);
    assert_int_equal(got, 0);
    stt_resampler_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tone_8k),         cmocka_unit_test(test_tone_44k1),
        cmocka_unit_test(test_tone_48k),        cmocka_unit_test(test_rate_change),
        cmocka_unit_test(test_unaligned_input), cmocka_unit_test(test_clipping),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
