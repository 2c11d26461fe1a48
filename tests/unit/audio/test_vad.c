/* VAD tests: boundaries on labelled synthetic speech (16 kHz, and 8 / 44.1 / 48 kHz through the
 * resampler), silence on noise and digital silence, detection on the five librivox recordings
 * from pocketsphinx-testdata (also after a telephone-band round trip through 8 kHz), and the
 * sensitivity mapping.
 *
 * Boundary criterion. The VAD decides per 512-sample chunk (32 ms), so a decision is a chunk,
 * not an instant. A boundary label at sample s is met by chunk k when s lies within 30 ms
 * (480 samples) of the chunk's span [512k, 512k + 512): dist = max(0, 512k - s, s - 512k - 512).
 *   - speech start: the first chunk with `onset` and the first chunk with `active`;
 *   - speech end: the last chunk with `active` minus STT_VAD_HANGOVER_CHUNKS (the designed
 *     hangover of exactly 4 chunks = 128 ms, see vad.h), i.e. the last chunk judged speech.
 * Nothing may be flagged before the speech (beyond the 30 ms) or after the hangover, and
 * `active` must not drop out inside the labelled segment (its syllables dip 20 dB). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "noise.h"
#include <sndfile.h>

#include "stt/resample.h"
#include "stt/vad.h"

#define RATE STT_VAD_RATE_HZ
#define CHUNK STT_VAD_CHUNK_SAMPLES
#define TOL_SAMPLES 480 /* 30 ms */
#define LIBRIVOX_DIR "/usr/share/pocketsphinx/test/data/librivox/"

/* Deterministic noise so the tests are reproducible: xorshift32, uniform in [-1, 1). */

/* Adds noise of the given RMS level (dB re 32768) to x; pink when
 * `pink` (Paul Kellet's filter), else white. The level is exact: the noise is normalised. */
static void add_noise(double *x, size_t n, double dbfs, int pink, uint32_t seed)
{
    double *w = malloc(n * sizeof(double));
    assert_non_null(w);
    test_noise(w, n, pink ? NOISE_PINK : NOISE_WHITE, dbfs, &seed);
    for (size_t i = 0; i < n; i++)
        x[i] += w[i];
    free(w);
}

/* Speech-like voiced sound from t0 to t1 seconds at `rate`: harmonics of a pitch gliding
 * between 120 and 200 Hz, amplitudes 1/k up to 3.5 kHz, a 4 Hz syllabic envelope that dips
 * 20 dB between syllables, 5 ms raised-cosine edges, peaks around -12 dBFS. */
static void add_voiced(double *x, size_t n, int rate, double t0, double t1)
{
    double phase = 0;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / rate;
        if (t < t0 || t >= t1)
            continue;
        double u = t - t0;
        double f0 = 160.0 + 40.0 * sin(2.0 * M_PI * 0.7 * u);
        phase += 2.0 * M_PI * f0 / rate;
        double s = 0;
        for (int k = 1; k * f0 < 3500.0; k++)
            s += sin(k * phase) / k;
        double env = 0.55 + 0.45 * cos(2.0 * M_PI * 4.0 * u);
        double edge = fmin(u, t1 - t) / 0.005;
        if (edge < 1.0)
            env *= 0.5 - 0.5 * cos(M_PI * edge);
        x[i] += 0.16 * 32768.0 * env * s;
    }
}

static int16_t *to_pcm(const double *x, size_t n)
{
    int16_t *p = malloc(n * sizeof(int16_t));
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        double v = x[i] > 32767.0 ? 32767.0 : (x[i] < -32768.0 ? -32768.0 : x[i]);
        p[i] = (int16_t)lrint(v);
    }
    return p;
}

/* The little-endian wire bytes of n samples (the resampler's input format). */
static uint8_t *to_le(const int16_t *in, size_t n)
{
    uint8_t *le = malloc(2 * n + 1);
    assert_non_null(le);
    for (size_t i = 0; i < n; i++) {
        le[2 * i] = (uint8_t)((uint16_t)in[i] & 0xff);
        le[2 * i + 1] = (uint8_t)((uint16_t)in[i] >> 8);
    }
    return le;
}

/* Resamples int16 `in` at in_rate to 16 kHz through the production resampler, in
 * irregular pieces. */
static int16_t *resample_to_16k(const int16_t *in, size_t n, int in_rate, size_t *n_out)
{
    stt_resampler_t *r = stt_resampler_create(in_rate, RATE, STT_RESAMPLE_QUALITY_DEFAULT);
    assert_non_null(r);
    size_t cap = stt_resampler_max_output(r, n) + 16, got = 0;
    int16_t *out = malloc(cap * sizeof(int16_t));
    assert_non_null(out);
    uint8_t *le = to_le(in, n);
    size_t pos = 0, piece = 997;
    while (pos < n) {
        size_t c = n - pos < piece ? n - pos : piece, w = 0;
        assert_true(stt_resampler_max_output(r, c) <= cap - got);
        assert_int_equal(stt_resampler_process(r, le + 2 * pos, c, out + got, cap - got, &w), 0);
        got += w;
        pos += c;
    }
    stt_resampler_destroy(r);
    free(le);
    *n_out = got;
    return out;
}

typedef struct {
    long first_onset; /* chunk index, -1 if none */
    long first_active;
    long last_active;
    long active_chunks;
    long onset_chunks;
    long gaps; /* active -> inactive -> active flips */
} vad_run_t;

static vad_run_t run_vad(const int16_t *pcm, size_t n, const stt_vad_params_t *p)
{
    stt_vad_t v;
    stt_vad_init(&v, p);
    vad_run_t r = {-1, -1, -1, 0, 0, 0};
    int was_active = 0;
    for (size_t k = 0; (k + 1) * CHUNK <= n; k++) {
        stt_vad_result_t d = stt_vad_process(&v, pcm + k * CHUNK);
        assert_true(d.score >= 0.0 && d.score <= 1.0);
        if (d.onset) {
            r.onset_chunks++;
            if (r.first_onset < 0)
                r.first_onset = (long)k;
        }
        if (d.active) {
            if (r.first_active < 0)
                r.first_active = (long)k;
            else if (!was_active)
                r.gaps++;
            r.last_active = (long)k;
            r.active_chunks++;
        }
        was_active = d.active;
    }
    stt_vad_dispose(&v);
    return r;
}

/* Distance in samples from label s to the span of chunk k (0 when inside). */
static long dist_to_chunk(long k, long s)
{
    long a = k * CHUNK, b = a + CHUNK;
    return s < a ? a - s : (s >= b ? s - b + 1 : 0);
}

static double worst_start_ms, worst_end_ms;

/* Builds the labelled signal at `rate` (background, voiced from t0 to t1, background), brings
 * it to 16 kHz, runs the VAD with default parameters and checks the boundaries. */
static void check_labelled(int rate, double t0, double t1, double bg_dbfs, int pink)
{
    const double total_s = t1 + 1.5;
    size_t n = (size_t)(total_s * rate);
    double *x = calloc(n, sizeof(double));
    assert_non_null(x);
    add_noise(x, n, bg_dbfs, pink, 12345u + (uint32_t)rate);
    add_voiced(x, n, rate, t0, t1);
    int16_t *pcm = to_pcm(x, n);
    size_t n16 = n;
    int16_t *p16 = pcm;
    if (rate != RATE)
        p16 = resample_to_16k(pcm, n, rate, &n16);

    stt_vad_params_t p = stt_vad_default_params();
    vad_run_t r = run_vad(p16, n16, &p);
    long s_on = lrint(t0 * RATE), s_end = lrint(t1 * RATE);
    assert_true(r.first_onset >= 0);
    assert_true(r.first_active >= 0);
    long raw_last = r.last_active - STT_VAD_HANGOVER_CHUNKS;
    long d_on = dist_to_chunk(r.first_onset, s_on);
    long d_act = dist_to_chunk(r.first_active, s_on);
    long d_end = dist_to_chunk(raw_last, s_end);
    printf("  %5d Hz %s %3.0f dBFS, speech %.4f-%.4f s: onset chunk %ld (%.0f-%.0f ms, off by "
           "%.1f ms), active chunk %ld (off by %.1f ms), last speech chunk %ld (%.0f-%.0f ms, "
           "off by %.1f ms), %ld gaps\n",
           rate, pink ? "pink " : "white", bg_dbfs, t0, t1, r.first_onset, r.first_onset * 32.0,
           r.first_onset * 32.0 + 32, d_on / 16.0, r.first_active, d_act / 16.0, raw_last,
           raw_last * 32.0, raw_last * 32.0 + 32, d_end / 16.0, r.gaps);
    worst_start_ms = fmax(worst_start_ms, fmax(d_on, d_act) / 16.0);
    worst_end_ms = fmax(worst_end_ms, d_end / 16.0);

    assert_true(d_on <= TOL_SAMPLES);
    assert_true(d_act <= TOL_SAMPLES);
    assert_true(d_end <= TOL_SAMPLES);
    /* Nothing before the speech: the first flags are the ones just checked, so also require
     * they are not early. */
    assert_true((r.first_onset + 1) * CHUNK > s_on - TOL_SAMPLES);
    assert_true((r.first_active + 1) * CHUNK > s_on - TOL_SAMPLES);
    /* One unbroken active stretch, and onset only within it. */
    assert_int_equal(r.gaps, 0);
    assert_int_equal(r.active_chunks, r.last_active - r.first_active + 1);
    assert_true(r.onset_chunks <= r.active_chunks);

    if (p16 != pcm)
        free(p16);
    free(pcm);
    free(x);
}

/* Start and end offsets chosen to land at different points inside a chunk. */
static const double starts[] = {1.0, 1.0086, 1.0191, 1.0300};
static const double lens[] = {1.5, 1.5131, 1.7007, 2.0222};

static void check_rate(int rate)
{
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
        check_labelled(rate, starts[i], starts[i] + lens[i], -60.0, 0);
    /* Speech in moderate pink background noise (SNR about 20 dB at the syllable peaks). */
    check_labelled(rate, 1.2113, 2.9, -40.0, 1);
}

static void test_boundaries_16k(void **state)
{
    (void)state;
    check_rate(16000);
}

static void test_boundaries_8k(void **state)
{
    (void)state;
    check_rate(8000);
}

static void test_boundaries_44k1(void **state)
{
    (void)state;
    check_rate(44100);
}

static void test_boundaries_48k(void **state)
{
    (void)state;
    check_rate(48000);
    printf("  worst start error %.1f ms, worst end error %.1f ms (tolerance 30 ms)\n",
           worst_start_ms, worst_end_ms);
}

static void check_quiet(const char *what, const double *x, size_t n)
{
    int16_t *pcm = to_pcm(x, n);
    stt_vad_params_t p = stt_vad_default_params();
    vad_run_t r = run_vad(pcm, n, &p);
    printf("  %s: %ld onset, %ld active chunks of %zu\n", what, r.onset_chunks, r.active_chunks,
           n / CHUNK);
    assert_int_equal(r.onset_chunks, 0);
    assert_int_equal(r.active_chunks, 0);
    free(pcm);
}

static void test_no_detection_on_noise(void **state)
{
    (void)state;
    const size_t n = 5 * RATE;
    double *x = calloc(n, sizeof(double));
    assert_non_null(x);
    check_quiet("digital silence 5 s", x, n);
    add_noise(x, n, -30.0, 0, 777u);
    check_quiet("white noise -30 dBFS 5 s", x, n);
    memset(x, 0, n * sizeof(double));
    add_noise(x, n, -30.0, 1, 778u);
    check_quiet("pink noise -30 dBFS 5 s", x, n);
    memset(x, 0, n * sizeof(double));
    add_noise(x, n, -15.0, 0, 779u);
    check_quiet("white noise -15 dBFS 5 s", x, n);
    /* Noise that was there from the start needs no learning time (above). Silence that turns
     * into steady noise may raise `onset` until the floor has caught up, within floor_adapt_s
     * (2 s = 63 chunks), but is never `active`: it has no periodicity. */
    memset(x, 0, n * sizeof(double));
    add_noise(x + n / 2, n / 2, -30.0, 0, 780u);
    int16_t *pcm = to_pcm(x, n);
    stt_vad_params_t p = stt_vad_default_params();
    vad_run_t r = run_vad(pcm, n, &p);
    printf("  silence then white noise -30 dBFS: %ld onset, %ld active chunks\n", r.onset_chunks,
           r.active_chunks);
    assert_int_equal(r.active_chunks, 0);
    assert_true(r.onset_chunks <= 63);
    free(pcm);
    free(x);
}

static const char *const librivox[] = {
    "sense_and_sensibility_01_austen_64kb-0870.wav",
    "sense_and_sensibility_01_austen_64kb-0880.wav",
    "sense_and_sensibility_01_austen_64kb-0890.wav",
    "sense_and_sensibility_01_austen_64kb-0920.wav",
    "sense_and_sensibility_01_austen_64kb-0930.wav",
};

static int16_t *load_wav(const char *path, size_t *n)
{
    SF_INFO info;
    memset(&info, 0, sizeof(info));
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f)
        fail_msg("cannot open %s (package pocketsphinx-testdata)", path);
    assert_int_equal(info.samplerate, RATE);
    assert_int_equal(info.channels, 1);
    int16_t *pcm = malloc((size_t)info.frames * sizeof(int16_t));
    assert_non_null(pcm);
    *n = (size_t)sf_read_short(f, pcm, info.frames);
    sf_close(f);
    return pcm;
}

/* Each recording has ~0.25 s of room tone, then read speech to near its end. */
static void check_librivox(const char *name, const int16_t *pcm, size_t n, const char *how)
{
    stt_vad_params_t p = stt_vad_default_params();
    vad_run_t r = run_vad(pcm, n, &p);
    long chunks = (long)(n / CHUNK);
    printf("  %s%s: first onset %.0f ms, first active %.0f ms, last active %.0f ms, active "
           "%ld/%ld chunks, %ld gaps\n",
           name + 31, how, r.first_onset * 32.0, r.first_active * 32.0, r.last_active * 32.0,
           r.active_chunks, chunks, r.gaps);
    assert_true(r.first_onset >= 0 && r.first_active >= 0);
    /* No false start in the leading room tone (the speech starts after 220 ms in all five). */
    assert_true(r.first_onset * CHUNK >= RATE / 8);
    /* Most of the recording is speech, and the detector follows it to near the end. */
    assert_true(r.active_chunks * 10 >= chunks * 6);
    assert_true(r.last_active >= chunks - chunks / 5);
}

static void test_librivox(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(librivox) / sizeof(librivox[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s%s", LIBRIVOX_DIR, librivox[i]);
        size_t n = 0;
        int16_t *pcm = load_wav(path, &n);
        check_librivox(librivox[i], pcm, n, "");

        /* Telephone-like: down to 8 kHz (band-limits to < 4 kHz) and back. */
        stt_resampler_t *down = stt_resampler_create(RATE, 8000, STT_RESAMPLE_QUALITY_DEFAULT);
        size_t cap = stt_resampler_max_output(down, n), n8 = 0;
        int16_t *p8 = malloc(cap * sizeof(int16_t));
        assert_non_null(p8);
        uint8_t *le = to_le(pcm, n);
        assert_int_equal(stt_resampler_process(down, le, n, p8, cap, &n8), 0);
        free(le);
        stt_resampler_destroy(down);
        size_t n16 = 0;
        int16_t *back = resample_to_16k(p8, n8, 8000, &n16);
        check_librivox(librivox[i], back, n16, " via 8 kHz");
        free(back);
        free(p8);
        free(pcm);
    }
}

static void test_sensitivity_mapping(void **state)
{
    (void)state;
    stt_vad_params_t d = stt_vad_default_params(), p = d;
    /* The original's defaults (silero 0.05, webrtc 3) give our defaults. */
    stt_vad_params_from_sensitivity(&p, 0.05, 3);
    assert_true(fabs(p.active_threshold - d.active_threshold) < 1e-9);
    assert_true(fabs(p.onset_threshold - d.onset_threshold) < 1e-9);
    assert_true(p.min_snr_db == d.min_snr_db && p.floor_adapt_s == d.floor_adapt_s);
    /* Higher silero sensitivity = more speech = lower strict threshold. */
    double prev = 2.0;
    for (double s = 0.0; s <= 1.0; s += 0.1) {
        stt_vad_params_from_sensitivity(&p, s, 3);
        assert_true(p.active_threshold <= prev);
        assert_true(p.active_threshold > 0.0 && p.active_threshold < 1.0);
        prev = p.active_threshold;
    }
    stt_vad_params_from_sensitivity(&p, 0.4, 3);
    assert_true(fabs(p.active_threshold - 0.6) < 1e-9);
    /* Higher webrtc aggressiveness = less speech = higher loose threshold; out of range
     * clamps. */
    prev = -1.0;
    for (int w = 0; w <= 3; w++) {
        stt_vad_params_from_sensitivity(&p, 0.05, w);
        assert_true(p.onset_threshold > prev);
        prev = p.onset_threshold;
    }
    stt_vad_params_from_sensitivity(&p, 0.05, 9);
    assert_true(fabs(p.onset_threshold - prev) < 1e-9);
    stt_vad_params_from_sensitivity(&p, 0.05, -1);
    assert_true(fabs(p.onset_threshold - 0.30) < 1e-9);
}

/* The knobs do what they say on real speech: a maximal silero sensitivity marks more chunks
 * active than the default, a zero one marks none... almost: threshold 0.99 still admits the
 * clearest voiced chunks, so it must mark fewer. */
static void test_sensitivity_effect(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s%s", LIBRIVOX_DIR, librivox[0]);
    size_t n = 0;
    int16_t *pcm = load_wav(path, &n);
    stt_vad_params_t lo = stt_vad_default_params(), def = lo, hi = lo;
    stt_vad_params_from_sensitivity(&lo, 0.0, 3);
    stt_vad_params_from_sensitivity(&hi, 0.6, 0);
    vad_run_t rl = run_vad(pcm, n, &lo), rd = run_vad(pcm, n, &def), rh = run_vad(pcm, n, &hi);
    printf("  active chunks: silero 0.0 -> %ld, default -> %ld, silero 0.6 -> %ld; onset chunks "
           "webrtc 3 -> %ld, webrtc 0 -> %ld\n",
           rl.active_chunks, rd.active_chunks, rh.active_chunks, rd.onset_chunks, rh.onset_chunks);
    assert_true(rl.active_chunks <= rd.active_chunks);
    assert_true(rd.active_chunks <= rh.active_chunks);
    assert_true(rd.onset_chunks < rh.onset_chunks);
    free(pcm);
}

/* Digital silence between two stretches of speech (a muted microphone, telephony silence
 * suppression). Once the filters have come to rest at exactly zero, a chunk of zeros skips them;
 * it must leave the detector where the filter path would: the pitch history one chunk of zeros
 * further, the decimator's phase and the noise floor untouched, a score of 0. The speech after
 * the silence must be found like the speech before it. */
static void test_digital_silence(void **state)
{
    (void)state;
    const int rate = 16000;
    size_t n = 4 * (size_t)rate;
    double *x = calloc(n, sizeof(double));
    assert_non_null(x);
    add_noise(x, n, -55.0, 0, 11);
    add_voiced(x, n, rate, 0.5, 1.5);
    add_voiced(x, n, rate, 3.3, 4.0);
    int16_t *pcm = to_pcm(x, n);
    for (size_t i = (size_t)(1.5 * rate); i < (size_t)(3.0 * rate); i++)
        pcm[i] = 0;

    stt_vad_t v;
    stt_vad_init(&v, NULL);
    int rests = 0, first_active_after = -1, active_before = 0;
    for (size_t k = 0; (k + 1) * CHUNK <= n; k++) {
        const int16_t *c = pcm + k * CHUNK;
        double t = (double)(k * CHUNK) / rate;
        int at_rest = 1;
        for (int f = 0; f < 4; f++)
            at_rest &= v.iir[f][0] == 0.0 && v.iir[f][1] == 0.0;
        unsigned pos = v.pitch_pos, phase = v.decim_phase;
        double floor_db = v.noise_floor_db;
        stt_vad_result_t d = stt_vad_process(&v, c);
        if (t >= 1.5 && t + (double)CHUNK / rate <= 3.0 && at_rest) {
            rests++;
            assert_int_equal(v.pitch_pos, (pos + CHUNK / 4) & (STT_VAD_PITCH_HIST - 1));
            assert_int_equal(v.decim_phase, phase);
            assert_true(v.noise_floor_db == floor_db);
            assert_true(d.score == 0.0 && !d.onset);
            assert_true(!d.active || t < 1.5 + 0.2); /* the hangover may still run */
            for (unsigned i = 0; i < CHUNK / 4; i++)
                assert_true(v.pitch_hist[(pos + i) & (STT_VAD_PITCH_HIST - 1)] == 0.0f);
        }
        active_before += t < 1.5 && d.active;
        if (t >= 3.3 && d.active && first_active_after < 0)
            first_active_after = (int)k;
    }
    printf("digital silence: %d of 46 silent chunks at rest, %d active chunks before, first "
           "active after at %.3f s\n",
           rests, active_before, first_active_after * (double)CHUNK / rate);
    assert_true(rests >= 40); /* the filters settle within a few chunks */
    assert_true(active_before >= 20);
    assert_true(first_active_after >= 0);
    assert_true(first_active_after * (double)CHUNK / rate < 3.3 + 0.15);
    free(pcm);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundaries_16k),        cmocka_unit_test(test_boundaries_8k),
        cmocka_unit_test(test_boundaries_44k1),       cmocka_unit_test(test_boundaries_48k),
        cmocka_unit_test(test_no_detection_on_noise), cmocka_unit_test(test_librivox),
        cmocka_unit_test(test_sensitivity_mapping),   cmocka_unit_test(test_sensitivity_effect),
        cmocka_unit_test(test_digital_silence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
