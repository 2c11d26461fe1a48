/* Silero VAD (src/audio/silero.c, and its use as --vad silero in src/audio/vad.c).
 *
 * 1. Faithfulness: the forward pass in whisper.cpp's framing against whisper.cpp 1.9.1's own
 *    VAD (whisper_vad_detect_speech) on the five librivox recordings, with the weights converted
 *    by tools/common/silero_ggml.c: the largest difference of any chunk's probability is printed
 *    and must stay under AGREE_TOL (whisper.cpp computes its convolutions with float16 inputs,
 *    we with float32, so they are close but not equal). Skipped in a build without whisper.cpp.
 * 2. Labelled audio: each recording between 1 s of quiet room noise (-60 dBFS pink) on each
 *    side, 16 kHz and after an 8 kHz round trip; the truth is the first and last 10 ms frame
 *    within 20 dB of the recording's loudest (bench/vad_compare.py labels the same way). The
 *    recording must start (two consecutive `onset` chunks, the turn machine's rule) within
 *    ONSET_TOL_MS of the true start and nowhere else, and the last `active` chunk minus the
 *    designed hangover must end within OFFSET_TOL_MS of the true end. Measured: starts -10..+250
 *    ms off, ends +90..+220 ms late (Silero's probability decays over a few chunks after the
 *    last syllable, whose tail lies under the 20 dB label), so the tolerances are 300 ms.
 * 3. Noise alone: 20 s of pink, brown and white noise at -30 dBFS (0 dB SNR against these
 *    recordings), steady and switched on abruptly: no chunk `active`, no recording start.
 * 4. The cascade leaves Silero idle on digital silence and steady noise; a broken or missing
 *    model file is a clear error. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "noise.h"
#include <sndfile.h>

#include "stt/error.h"
#include "stt/resample.h"
#include "stt/silero.h"
#include "stt/vad.h"

#ifdef STT_TEST_WHISPER
#include "common/silero_ggml.h"
#include <whisper.h>
#endif

#define CHUNK STT_VAD_CHUNK_SAMPLES
#define RATE 16000
#define LIBRIVOX_DIR "/usr/share/pocketsphinx/test/data/librivox/"
#define AGREE_TOL 0.05
#define ONSET_TOL_MS 300.0
#define OFFSET_TOL_MS 300.0
#define NOISE_MAX_P 0.5 /* Silero's own default threshold */

static const char *const recordings[] = {
    "sense_and_sensibility_01_austen_64kb-0870.wav", "sense_and_sensibility_01_austen_64kb-0880.wav",
    "sense_and_sensibility_01_austen_64kb-0890.wav", "sense_and_sensibility_01_austen_64kb-0920.wav",
    "sense_and_sensibility_01_austen_64kb-0930.wav",
};
#define N_REC (sizeof(recordings) / sizeof(recordings[0]))

static stt_silero_model_t *model;
static char model_path[1024];

static int setup(void **state)
{
    const char *src = getenv("STT_SOURCE_DIR");
    snprintf(model_path, sizeof(model_path),
             "%s/.deps/models/silero-vad-6.2.1/silero_vad_16k.safetensors", src ? src : ".");
    char err[512];
    if (stt_silero_model_load(model_path, &model, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1; /* run scripts/fetch-silero.sh (scripts/setup.sh does) */
    }
    return 0;
}

static int teardown(void **state)
{
    stt_silero_model_destroy(model);
    return 0;
}

static int16_t *read_wav(const char *name, size_t *n)
{
    char path[512];
    snprintf(path, sizeof(path), LIBRIVOX_DIR "%s", name);
    SF_INFO info = {0};
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    assert_non_null(f);
    assert_int_equal(info.samplerate, RATE);
    int16_t *x = malloc((size_t)info.frames * sizeof(int16_t));
    *n = (size_t)sf_read_short(f, x, info.frames);
    sf_close(f);
    return x;
}

static uint32_t rng = 12345;

/* n samples of noise at `dbfs` RMS: 0 white, 1 pink (Kellet), 2 brown (leaky integral). */
static void noise(double *out, size_t n, int kind, double dbfs)
{
    test_noise(out, n, kind, dbfs, &rng);
}

static int16_t clip(double v)
{
    return v > 32767 ? 32767 : (v < -32768 ? -32768 : (int16_t)lrint(v));
}

/* ---- 1. against whisper.cpp ---- */

#ifdef STT_TEST_WHISPER
static void quiet(enum ggml_log_level level, const char *text, void *data)
{
    (void)level, (void)text, (void)data;
}
#endif

static void test_matches_whisper_cpp(void **state)
{
#ifndef STT_TEST_WHISPER
    skip();
#else
    char out[] = "/tmp/stt-silero-ggml-XXXXXX";
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    close(fd);
    char err[512];
    int rc = stt_silero_to_ggml(model_path, out, "6.2.1", err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    whisper_log_set(quiet, NULL);
    struct whisper_vad_context_params cp = whisper_vad_default_context_params();
    cp.n_threads = 1;
    cp.use_gpu = false;
    struct whisper_vad_context *w = whisper_vad_init_from_file_with_params(out, cp);
    remove(out);
    assert_non_null(w);
    double worst = 0, sum_p = 0;
    size_t total = 0;
    for (size_t r = 0; r < N_REC; r++) {
        size_t n;
        int16_t *x = read_wav(recordings[r], &n);
        size_t chunks = n / CHUNK;
        float *f = malloc(chunks * CHUNK * sizeof(float));
        for (size_t i = 0; i < chunks * CHUNK; i++)
            f[i] = (float)x[i] / 32768.0f;
        assert_true(whisper_vad_detect_speech(w, f, (int)(chunks * CHUNK)));
        assert_int_equal(whisper_vad_n_probs(w), (int)chunks);
        const float *ref = whisper_vad_probs(w);
        stt_silero_t s;
        stt_silero_init(&s, model, STT_SILERO_REFLECT);
        double file_worst = 0;
        for (size_t c = 0; c < chunks; c++) {
            double p = stt_silero_process_f32(&s, f + c * CHUNK);
            double d = fabs(p - ref[c]);
            file_worst = d > file_worst ? d : file_worst;
            sum_p += p;
        }
        printf("  %s: %zu chunks, max |p - whisper.cpp| = %.5f\n", recordings[r], chunks,
               file_worst);
        worst = file_worst > worst ? file_worst : worst;
        total += chunks;
        free(f);
        free(x);
    }
    whisper_vad_free(w);
    printf("  all: %zu chunks, max abs diff %.5f, mean p %.3f\n", total, worst, sum_p / total);
    assert_true(worst < AGREE_TOL);
    assert_true(sum_p / total > 0.5); /* real speech: agreement is not two zeros */
#endif
}

/* ---- 2. labelled audio ---- */

typedef struct {
    double onset_s;   /* first recording start, or -1 */
    double offset_s;  /* end of the last active stretch minus the hangover, or -1 */
    int starts;       /* recording starts (two consecutive onset chunks) */
    int starts_near;  /* ... of them within ONSET_TOL_MS of the true start */
    int starts_away;  /* ... of them more than ONSET_TOL_MS outside the true speech */
    size_t active;    /* active chunks */
    size_t silero;    /* chunks Silero ran on */
} run_t;

static run_t run_vad(const int16_t *x, size_t n, const stt_silero_model_t *m, double t_on,
                     double t_off)
{
    stt_vad_params_t p = stt_vad_default_params();
    p.silero = m;
    stt_vad_t v;
    stt_vad_init(&v, &p);
    run_t r = {.onset_s = -1, .offset_s = -1};
    int run = 0;
    for (size_t c = 0; c + 1 <= n / CHUNK; c++) {
        stt_vad_result_t d = stt_vad_process(&v, x + c * CHUNK);
        run = d.onset ? run + 1 : 0;
        if (run == 2) {
            double at = (double)(c - 1) * CHUNK / RATE;
            r.starts++;
            if (at < t_on - ONSET_TOL_MS / 1000 || at > t_off + ONSET_TOL_MS / 1000)
                r.starts_away++;
            if (fabs(at - t_on) * 1000 <= ONSET_TOL_MS) {
                r.starts_near++;
                if (r.onset_s < 0)
                    r.onset_s = at;
            }
        }
        if (d.active) {
            r.active++;
            r.offset_s = (double)(c + 1 - STT_VAD_HANGOVER_CHUNKS) * CHUNK / RATE;
        }
        r.silero += (size_t)d.ran_silero;
    }
    stt_vad_dispose(&v);
    return r;
}

/* The first and last 10 ms frame within 20 dB of the loudest, in samples. */
static void label(const int16_t *x, size_t n, size_t *on, size_t *off)
{
    enum { F = RATE / 100 };
    double top = 0;
    for (size_t i = 0; i + F <= n; i += F) {
        double e = 0;
        for (size_t k = 0; k < F; k++)
            e += (double)x[i + k] * x[i + k];
        top = e > top ? e : top;
    }
    *on = *off = 0;
    int first = 1;
    for (size_t i = 0; i + F <= n; i += F) {
        double e = 0;
        for (size_t k = 0; k < F; k++)
            e += (double)x[i + k] * x[i + k];
        if (e > top * 0.01) { /* 20 dB in energy */
            if (first)
                *on = i;
            first = 0;
            *off = i + F;
        }
    }
}

/* Recording r between PAD_S of -60 dBFS pink noise; optionally through 8 kHz and back. */
static int16_t *padded(size_t r, int phone, size_t *n_out, double *t_on, double *t_off)
{
    enum { PAD = RATE };
    size_t n;
    int16_t *x = read_wav(recordings[r], &n);
    size_t on, off;
    label(x, n, &on, &off);
    size_t total = n + 2 * PAD;
    double *bg = malloc(total * sizeof(double));
    noise(bg, total, 1, -60.0);
    int16_t *y = malloc(total * sizeof(int16_t));
    for (size_t i = 0; i < total; i++) {
        double s = (i >= PAD && i < PAD + n) ? x[i - PAD] : 0.0;
        y[i] = clip(s + bg[i]);
    }
    free(bg);
    free(x);
    *t_on = (double)(PAD + on) / RATE;
    *t_off = (double)(PAD + off) / RATE;
    if (phone) {
        /* Down to 8 kHz and back up, as a telephone caller's audio reaches the VAD. */
        stt_resampler_t *d = stt_resampler_create(RATE, 8000, STT_RESAMPLE_QUALITY_DEFAULT);
        stt_resampler_t *u = stt_resampler_create(8000, RATE, STT_RESAMPLE_QUALITY_DEFAULT);
        int16_t *mid = malloc(total * sizeof(int16_t)), *back = malloc(2 * total * sizeof(int16_t));
        size_t nm = 0, nb = 0;
        stt_resampler_process(d, (const uint8_t *)y, total, mid, total, &nm);
        stt_resampler_process(u, (const uint8_t *)mid, nm, back, 2 * total, &nb);
        stt_resampler_destroy(d);
        stt_resampler_destroy(u);
        free(mid);
        free(y);
        y = back;
        total = nb;
    }
    *n_out = total;
    return y;
}

static void test_labelled_boundaries(void **state)
{
    for (int phone = 0; phone <= 1; phone++)
        for (size_t r = 0; r < N_REC; r++) {
            size_t n;
            double t_on, t_off;
            int16_t *x = padded(r, phone, &n, &t_on, &t_off);
            run_t v = run_vad(x, n, model, t_on, t_off);
            printf("  %s%s: truth %.2f-%.2f s, start %.2f s (%+.0f ms), end %.2f s (%+.0f ms), "
                   "%d starts\n",
                   recordings[r], phone ? " (8 kHz)" : "", t_on, t_off, v.onset_s,
                   (v.onset_s - t_on) * 1000, v.offset_s, (v.offset_s - t_off) * 1000, v.starts);
            assert_true(v.starts_near >= 1);
            assert_true(fabs(v.onset_s - t_on) * 1000 <= ONSET_TOL_MS);
            assert_true(fabs(v.offset_s - t_off) * 1000 <= OFFSET_TOL_MS);
            /* Nothing starts in the padding. */
            assert_int_equal(v.starts_away, 0);
            free(x);
        }
}

/* ---- 3. noise alone ---- */

static void test_no_trigger_on_noise(void **state)
{
    enum { SECS = 20 };
    size_t n = (size_t)SECS * RATE;
    double *nz = malloc(n * sizeof(double));
    int16_t *x = malloc(n * sizeof(int16_t));
    for (int kind = 0; kind < 3; kind++) {
        noise(nz, n, kind, -30.0);
        /* One second of digital silence first: the noise switches on abruptly. */
        for (size_t i = 0; i < n; i++)
            x[i] = i < RATE ? 0 : clip(nz[i]);
        run_t v = run_vad(x, n, model, -100.0, -100.0);
        printf("  %s noise, -30 dBFS: %zu active chunks, %d starts, Silero ran on %zu of %zu\n",
               kind == 0 ? "white" : kind == 1 ? "pink" : "brown", v.active, v.starts, v.silero,
               n / CHUNK);
        assert_int_equal(v.starts, 0);
        assert_int_equal(v.active, 0);
        /* And the network itself, on every chunk, without the cascade's energy gate. */
        stt_silero_t s;
        stt_silero_init(&s, model, STT_SILERO_CONTEXT);
        double max_p = 0;
        for (size_t c = RATE / CHUNK + 1; c < n / CHUNK; c++) {
            double p = stt_silero_process(&s, x + c * CHUNK);
            max_p = p > max_p ? p : max_p;
        }
        printf("    Silero alone: max p %.3f\n", max_p);
        assert_true(max_p < NOISE_MAX_P);
    }
    free(nz);
    free(x);
}

/* ---- 4. cascade and errors ---- */

static void test_cascade_idle_on_silence(void **state)
{
    size_t n = 10 * RATE;
    int16_t *x = calloc(n, sizeof(int16_t));
    run_t v = run_vad(x, n, model, -100.0, -100.0);
    assert_int_equal(v.silero, 0);
    assert_int_equal(v.active, 0);
    free(x);
}

static void test_model_errors(void **state)
{
    stt_silero_model_t *m = (stt_silero_model_t *)1;
    char err[512] = "";
    assert_int_equal(stt_silero_model_load("/nonexistent/silero.safetensors", &m, err,
                                           sizeof(err)),
                     STT_ENOENT);
    assert_null(m);
    assert_non_null(strstr(err, "/nonexistent/silero.safetensors"));
    /* A valid safetensors file that is not Silero. */
    static const char hdr[] = "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[1],"
                              "\"data_offsets\":[0,4]}}";
    uint8_t buf[8 + sizeof(hdr) - 1 + 4] = {0};
    buf[0] = (uint8_t)(sizeof(hdr) - 1);
    memcpy(buf + 8, hdr, sizeof(hdr) - 1);
    assert_int_equal(stt_silero_model_load_buffer(buf, sizeof(buf), &m, err, sizeof(err)),
                     STT_EPARSE);
    assert_non_null(strstr(err, "stft_conv.weight"));
    /* Truncated: the header promises more than there is. */
    assert_int_equal(stt_silero_model_load_buffer(buf, sizeof(buf) - 5, &m, err, sizeof(err)),
                     STT_EPARSE);
    assert_null(m);
}

/* The portable kernel (STT_SILERO_GENERIC) and the AVX2 one compute the same probabilities. */
static void test_kernels_agree(void **state)
{
    setenv("STT_SILERO_GENERIC", "1", 1);
    stt_silero_model_t *g;
    char err[512];
    int rc = stt_silero_model_load(model_path, &g, err, sizeof(err));
    unsetenv("STT_SILERO_GENERIC");
    assert_int_equal(rc, 0);
    size_t n;
    int16_t *x = read_wav(recordings[4], &n);
    stt_silero_t a, b;
    stt_silero_init(&a, model, STT_SILERO_CONTEXT);
    stt_silero_init(&b, g, STT_SILERO_CONTEXT);
    double worst = 0;
    for (size_t c = 0; c < n / CHUNK; c++) {
        double d = fabs(stt_silero_process(&a, x + c * CHUNK) - stt_silero_process(&b, x + c * CHUNK));
        worst = d > worst ? d : worst;
    }
    printf("  kernels: max abs diff %.2g\n", worst);
    assert_true(worst < 1e-4);
    free(x);
    stt_silero_model_destroy(g);
}

static void test_f16_round_trip(void **state)
{
    /* Round to nearest even, as numpy's astype(float16). */
    assert_int_equal(stt_f16_from_f32(1.0f), 0x3c00);
    assert_int_equal(stt_f16_from_f32(-2.0f), 0xc000);
    assert_int_equal(stt_f16_from_f32(65504.0f), 0x7bff);
    assert_int_equal(stt_f16_from_f32(65520.0f), 0x7c00);       /* rounds up to inf */
    assert_int_equal(stt_f16_from_f32(5.9604645e-08f), 0x0001); /* smallest subnormal */
    assert_int_equal(stt_f16_from_f32(1.0f + 1.0f / 2048), 0x3c00); /* tie, to even */
    assert_int_equal(stt_f16_from_f32(1.0f + 3.0f / 2048), 0x3c02); /* tie, to even (up) */
    for (uint32_t h = 0; h < 0x7c00; h++)
        assert_int_equal(stt_f16_from_f32(stt_f16_to_f32((uint16_t)h)), h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_round_trip),
        cmocka_unit_test(test_model_errors),
        cmocka_unit_test(test_kernels_agree),
        cmocka_unit_test(test_matches_whisper_cpp),
        cmocka_unit_test(test_labelled_boundaries),
        cmocka_unit_test(test_no_trigger_on_noise),
        cmocka_unit_test(test_cascade_idle_on_silence),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
