/* Unit tests for src/audio/decode.c on real speech (pocketsphinx-testdata's librivox clip,
 * 7.1 s, 16 kHz mono), converted with sox into WAV (16/24-bit, float, stereo 44.1 kHz), FLAC,
 * Ogg Vorbis, MP3 (libsox-fmt-mp3) and, with opusenc (opus-tools), Ogg Opus. Each decode is
 * compared with an independent decode of the same file (sox's own; opusdec for Opus), aligned
 * by cross-correlation where the decoders trim encoder delay differently (MP3: mpg123 vs
 * libmad): the SNR of ours against theirs must be high, the rate, channels and duration right.
 * Then the failures: an empty file, a text file, truncated files, a WAV header declaring 4 GiB
 * of data, too many channels, a rate out of range, raw PCM parameters out of range; and the
 * descriptor contract (borrowed, offset untouched).
 *
 * The fixtures are made in a fresh temp directory by the tools (sox, opusenc, opusdec) that
 * scripts/setup.sh installs; without opusenc the Opus case is skipped and says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stt/decode.h"
#include "stt/error.h"
#include "stt/g711.h"

#define SPEECH                                                                                     \
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"

static char dir[256];

static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

static const char *path(const char *name)
{
    static char buf[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
    return buf[i];
}

static int have(const char *tool)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/stt-test-decode-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    if (access(SPEECH, R_OK) != 0 || !have("sox")) {
        fprintf(stderr, "test_decode: needs %s and sox (scripts/setup.sh)\n", SPEECH);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh("rm -rf '%s'", dir);
    return 0;
}

/* Reads a whole file; *n bytes. */
static uint8_t *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", p);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)len + 1);
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    return buf;
}

/* sox's own decode of a file: mono (channels averaged), s16, no dither, at its own rate. */
static int16_t *sox_decode(const char *file, size_t *n)
{
    sh("sox -D '%s' -t raw -e signed -b 16 -c 1 '%s'", file, path("ref.raw"));
    size_t bytes;
    int16_t *s = (int16_t *)slurp(path("ref.raw"), &bytes);
    *n = bytes / 2;
    return s;
}

typedef struct {
    int rate, channels;
    double duration_s;
    const char *format;
} info_t;

/* Our decode of a whole file, read in slices of `slice` frames. */
static int16_t *our_decode(const char *file, size_t slice, size_t *n, info_t *info)
{
    int fd = open(file, O_RDONLY);
    assert_true(fd >= 0);
    stt_decoder_t *d;
    char err[256];
    int rc = stt_decoder_open_fd(fd, &d, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s: %d %s", file, rc, err);
    assert_string_equal(err, "");
    info->rate = stt_decoder_rate(d);
    info->channels = stt_decoder_channels(d);
    info->duration_s = stt_decoder_duration_s(d);
    info->format = stt_decoder_format_name(d);
    size_t cap = 1 << 16, len = 0;
    int16_t *s = malloc(cap * 2);
    for (;;) {
        if (len + slice > cap) {
            cap = (len + slice) * 2;
            s = realloc(s, cap * 2);
        }
        long got = stt_decoder_read(d, s + len, slice);
        if (got < 0)
            fail_msg("%s: read error %ld: %s", file, got, stt_decoder_error(d));
        if (got == 0)
            break;
        assert_true((size_t)got <= slice);
        len += (size_t)got;
    }
    assert_int_equal(stt_decoder_read(d, s, slice), 0); /* stays at the end */
    stt_decoder_close(d);
    close(fd);
    *n = len;
    return s;
}

/* Sum over i of (a[i + lag] - b[i])^2 and b[i]^2, over b[from..to) where a[i + lag] exists. */
static void sums(const int16_t *a, size_t na, const int16_t *b, size_t from, size_t to, int lag,
                 double *sig, double *err)
{
    *sig = *err = 0;
    for (size_t i = from; i < to; i++) {
        long j = (long)i + lag;
        if (j < 0 || (size_t)j >= na)
            continue;
        double e = (double)a[j] - b[i];
        *sig += (double)b[i] * b[i];
        *err += e * e;
    }
}

/* The SNR (dB) of a against reference b, a shifted by the lag in [-max_lag, max_lag] that
 * matches best (a[i + lag] ~ b[i]) on a 32768-sample window of speech; *lag_out gets it. */
static double snr_aligned(const int16_t *a, size_t na, const int16_t *b, size_t nb, int max_lag,
                          int *lag_out)
{
    double sig, err, best = 1e300;
    int best_lag = 0;
    size_t from = nb > 50000 ? 10000 : 0, to = from + 32768 < nb ? from + 32768 : nb;
    for (int lag = -max_lag; lag <= max_lag; lag++) {
        sums(a, na, b, from, to, lag, &sig, &err);
        if (err < best) {
            best = err;
            best_lag = lag;
        }
    }
    *lag_out = best_lag;
    sums(a, na, b, 0, nb, best_lag, &sig, &err);
    return err == 0 ? 200 : 10 * log10(sig / err);
}

static int max_abs_diff(const int16_t *a, const int16_t *b, size_t n)
{
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - b[i]);
        if (d > m)
            m = d;
    }
    return m;
}

/* Pearson correlation of the 20 ms frame energies of a (shifted by lag) and b: how well the
 * loudness contour of the speech survives, whatever the phase. */
static double envelope_corr(const int16_t *a, size_t na, const int16_t *b, size_t nb, int lag,
                            int rate)
{
    size_t frame = (size_t)rate / 50;
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    int k = 0;
    for (size_t f = 0; (f + 1) * frame <= nb; f++) {
        double ea = 0, eb = 0;
        for (size_t i = f * frame; i < (f + 1) * frame; i++) {
            long j = (long)i + lag;
            double va = j >= 0 && (size_t)j < na ? a[j] : 0;
            ea += va * va;
            eb += (double)b[i] * b[i];
        }
        sx += ea;
        sy += eb;
        sxx += ea * ea;
        syy += eb * eb;
        sxy += ea * eb;
        k++;
    }
    double cov = sxy - sx * sy / k, vx = sxx - sx * sx / k, vy = syy - sy * sy / k;
    return cov / sqrt(vx * vy);
}

/* Decodes `file` ours and sox's way and compares. */
static void compare(const char *file, const int16_t *ref, size_t nref, const char *format,
                    int rate, int channels, double min_snr_db, int max_lag, long max_len_diff)
{
    info_t info;
    size_t n;
    /* 1 s slices, and an odd small slice that cuts every libsndfile block. */
    int16_t *ours = our_decode(file, 16000, &n, &info);
    size_t n2;
    info_t info2;
    int16_t *ours2 = our_decode(file, 333, &n2, &info2);
    assert_int_equal(n, n2);
    assert_memory_equal(ours, ours2, n * 2);
    free(ours2);
    assert_string_equal(info.format, format);
    assert_int_equal(info.rate, rate);
    assert_int_equal(info.channels, channels);
    double dur = (double)nref / rate;
    int lag;
    double snr = snr_aligned(ours, n, ref, nref, max_lag, &lag);
    double env = envelope_corr(ours, n, ref, nref, lag, rate);
    printf("decode %-12s %6d Hz %d ch: %zu frames (reference %zu), declared %.3f s, "
           "lag %d, SNR vs reference %.1f dB, 20 ms energy correlation %.4f\n",
           format, rate, channels, n, nref, info.duration_s, lag, snr, env);
    assert_true(env > 0.99);
    assert_true(labs((long)n - (long)nref) <= max_len_diff);
    assert_true(fabs(info.duration_s - dur) < 0.06);
    if (snr < min_snr_db)
        fail_msg("%s: SNR %.1f dB < %.1f dB", file, snr, min_snr_db);
    free(ours);
}

static void test_pcm_wav(void **state)
{
    (void)state;
    /* The original 16 kHz mono s16 WAV: bit-exact. */
    size_t nref;
    int16_t *ref = sox_decode(SPEECH, &nref);
    info_t info;
    size_t n;
    int16_t *ours = our_decode(SPEECH, 16000, &n, &info);
    assert_int_equal(n, nref);
    assert_int_equal(n, 113600);
    assert_memory_equal(ours, ref, n * 2);
    assert_string_equal(info.format, "wav");
    assert_true(fabs(info.duration_s - 7.1) < 1e-9);
    free(ours);
    free(ref);
    /* Stereo 44.1 kHz with different channels (R = L / 2): the mean of the two, to 1 LSB. */
    sh("sox '%s' -r 44100 '%s' remix 1 1v0.5", SPEECH, path("st.wav"));
    ref = sox_decode(path("st.wav"), &nref);
    ours = our_decode(path("st.wav"), 44100, &n, &info);
    assert_int_equal(n, nref);
    assert_true(max_abs_diff(ours, ref, n) <= 1);
    assert_int_equal(info.channels, 2);
    free(ours);
    free(ref);
    /* 24-bit and float WAV. */
    sh("sox '%s' -b 24 '%s'", SPEECH, path("s24.wav"));
    sh("sox '%s' -e float -b 32 '%s'", SPEECH, path("f32.wav"));
    ref = sox_decode(SPEECH, &nref);
    ours = our_decode(path("s24.wav"), 8000, &n, &info);
    assert_int_equal(n, nref);
    assert_memory_equal(ours, ref, n * 2);
    free(ours);
    ours = our_decode(path("f32.wav"), 8000, &n, &info);
    assert_int_equal(n, nref);
    assert_true(max_abs_diff(ours, ref, n) <= 1);
    free(ours);
    free(ref);
}

static void test_flac(void **state)
{
    (void)state;
    sh("sox '%s' -r 44100 '%s' remix 1 1v0.5", SPEECH, path("st.flac"));
    size_t nref;
    int16_t *ref = sox_decode(path("st.flac"), &nref);
    compare(path("st.flac"), ref, nref, "flac", 44100, 2, 60, 0, 0);
    size_t n;
    info_t info;
    int16_t *ours = our_decode(path("st.flac"), 4096, &n, &info);
    assert_true(max_abs_diff(ours, ref, n) <= 1); /* lossless: the downmix's rounding only */
    free(ours);
    free(ref);
}

static void test_vorbis(void **state)
{
    (void)state;
    sh("sox '%s' -r 44100 '%s' remix 1 1v0.5", SPEECH, path("st.ogg"));
    size_t nref;
    int16_t *ref = sox_decode(path("st.ogg"), &nref);
    compare(path("st.ogg"), ref, nref, "ogg/vorbis", 44100, 2, 60, 0, 0);
    free(ref);
}

static void test_mp3(void **state)
{
    (void)state;
    /* sox reads MP3 with libmad, which keeps the encoder delay; libsndfile's mpg123 trims it
     * (gapless): align, and allow the lengths to differ by the delay and padding. */
    sh("sox '%s' -r 44100 '%s' remix 1 1v0.5", SPEECH, path("st.mp3"));
    sh("sox '%s' '%s'", SPEECH, path("mono.mp3"));
    size_t nref;
    int16_t *ref = sox_decode(path("st.mp3"), &nref);
    compare(path("st.mp3"), ref, nref, "mp3", 44100, 2, 25, 2400, 2400);
    free(ref);
    ref = sox_decode(path("mono.mp3"), &nref);
    compare(path("mono.mp3"), ref, nref, "mp3", 16000, 1, 25, 2400, 2400);
    free(ref);
}

static void test_opus(void **state)
{
    (void)state;
    if (!have("opusenc") || !have("opusdec")) {
        printf("test_opus: opusenc/opusdec absent (opus-tools, scripts/setup.sh): skipped\n");
        skip();
    }
    /* libsndfile 1.2.0 decodes Ogg Opus at the input rate its header records when Opus has
     * that rate (8, 12, 16, 24, 48 kHz), else at 48 kHz. */
    sh("sox '%s' -r 44100 '%s' remix 1 1v0.5", SPEECH, path("st44.wav"));
    sh("opusenc --quiet '%s' '%s'", path("st44.wav"), path("st.opus"));
    sh("opusdec --quiet --no-dither --rate 48000 '%s' '%s' 2>/dev/null", path("st.opus"),
       path("st_ref.wav"));
    size_t nref;
    int16_t *ref = sox_decode(path("st_ref.wav"), &nref);
    compare(path("st.opus"), ref, nref, "ogg/opus", 48000, 2, 40, 0, 0);
    free(ref);
    sh("opusenc --quiet '%s' '%s'", SPEECH, path("mono.opus"));
    sh("opusdec --quiet --no-dither --rate 16000 '%s' '%s' 2>/dev/null", path("mono.opus"),
       path("mono_ref.wav"));
    ref = sox_decode(path("mono_ref.wav"), &nref);
    /* At 16 kHz libopus decodes natively while opusdec decodes at 48 kHz and resamples: the
     * waveforms differ in phase (about 15 dB SNR), so only the energy contour is compared. */
    compare(path("mono.opus"), ref, nref, "ogg/opus", 16000, 1, 10, 0, 0);
    free(ref);
}

/* Expects stt_decoder_open_fd on `file` to fail with code and a message containing `what`. */
static void expect_open_error(const char *file, int code, const char *what)
{
    int fd = open(file, O_RDONLY);
    assert_true(fd >= 0);
    stt_decoder_t *d = (stt_decoder_t *)1;
    char err[256];
    int rc = stt_decoder_open_fd(fd, &d, err, sizeof(err));
    printf("open %s: %d %s\n", strrchr(file, '/') + 1, rc, err);
    assert_int_equal(rc, code);
    assert_null(d);
    if (strstr(err, what) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", file, err, what);
    close(fd);
}

static void write_file(const char *p, const void *data, size_t n)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void wav_header(uint8_t *h, uint32_t riff, int channels, uint32_t rate, uint32_t data)
{
    memcpy(h, "RIFF", 4);
    memcpy(h + 4, &riff, 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    uint32_t fmt_len = 16, byte_rate = rate * 2 * (uint32_t)channels;
    uint16_t pcm = 1, ch = (uint16_t)channels, align = (uint16_t)(2 * channels), bits = 16;
    memcpy(h + 16, &fmt_len, 4);
    memcpy(h + 20, &pcm, 2);
    memcpy(h + 22, &ch, 2);
    memcpy(h + 24, &rate, 4);
    memcpy(h + 28, &byte_rate, 4);
    memcpy(h + 32, &align, 2);
    memcpy(h + 34, &bits, 2);
    memcpy(h + 36, "data", 4);
    memcpy(h + 40, &data, 4);
}

static void test_bad_files(void **state)
{
    (void)state;
    write_file(path("empty.wav"), "", 0);
    expect_open_error(path("empty.wav"), STT_EPARSE, "empty file");
    const char *text = "model=whisper-1\nThis is not audio, just text.\n";
    write_file(path("text.wav"), text, strlen(text));
    expect_open_error(path("text.wav"), STT_EPARSE, "not an audio file libsndfile can read (");
    /* A WAV cut inside its header. */
    size_t n;
    uint8_t *wav = slurp(SPEECH, &n);
    write_file(path("cut.wav"), wav, 30);
    expect_open_error(path("cut.wav"), STT_EPARSE, "not an audio file libsndfile can read");
    /* A header only: no frames. */
    uint8_t h[44 + 4000];
    wav_header(h, 36, 1, 16000, 0);
    write_file(path("noframes.wav"), h, 44);
    expect_open_error(path("noframes.wav"), STT_EPARSE, "no audio frames");
    /* Channels and rate out of range. */
    wav_header(h, 36 + 4000, 9, 16000, 4000);
    memset(h + 44, 0, 4000);
    write_file(path("ch9.wav"), h, sizeof(h));
    expect_open_error(path("ch9.wav"), STT_EUNSUPPORTED, "unsupported: 9 channels (at most 8)");
    wav_header(h, 36 + 4000, 1, 4000, 4000);
    write_file(path("rate4k.wav"), h, sizeof(h));
    expect_open_error(path("rate4k.wav"), STT_EUNSUPPORTED, "unsupported: sample rate 4000 Hz");
    wav_header(h, 36 + 4000, 1, 0, 4000);
    write_file(path("rate0.wav"), h, sizeof(h));
    expect_open_error(path("rate0.wav"), STT_EPARSE, "not an audio file libsndfile can read");
    /* A header that declares 4 GiB of data over 4000 bytes: the frames there are read, no
     * more, and the declared duration is the file's. */
    wav_header(h, 0xFFFFFFFFu, 1, 16000, 0xFFFFFFF0u);
    memcpy(h + 44, wav + 44, 4000);
    write_file(path("huge.wav"), h, sizeof(h));
    info_t info;
    int16_t *s = our_decode(path("huge.wav"), 16000, &n, &info);
    assert_int_equal(n, 2000);
    assert_memory_equal(s, wav + 44, 4000);
    assert_true(info.duration_s > 0 && info.duration_s <= 2000.0 / 16000 + 1e-9);
    free(s);
    free(wav);
    /* A FLAC cut in half: the frames before the cut, then a decode error with its reason. */
    sh("sox '%s' '%s'", SPEECH, path("full.flac"));
    uint8_t *flac = slurp(path("full.flac"), &n);
    write_file(path("half.flac"), flac, n / 2);
    write_file(path("head.flac"), flac, 60);
    free(flac);
    int fd = open(path("half.flac"), O_RDONLY);
    stt_decoder_t *d;
    char err[256];
    assert_int_equal(stt_decoder_open_fd(fd, &d, err, sizeof(err)), 0);
    int16_t buf[16000];
    long got, total = 0;
    while ((got = stt_decoder_read(d, buf, 16000)) > 0)
        total += got;
    printf("half.flac: %ld frames of 113600, then %ld: %s\n", total, got, stt_decoder_error(d));
    assert_true(total > 20000 && total < 113600);
    assert_true(got == 0 || (got == STT_EPARSE && strstr(stt_decoder_error(d), "decode error")));
    if (got < 0)
        assert_int_equal(stt_decoder_read(d, buf, 16000), STT_EPARSE); /* sticky */
    stt_decoder_close(d);
    close(fd);
    /* A FLAC cut after its header opens (the header is whole) and its first read says why
     * there is nothing. */
    fd = open(path("head.flac"), O_RDONLY);
    assert_int_equal(stt_decoder_open_fd(fd, &d, err, sizeof(err)), 0);
    assert_int_equal(stt_decoder_read(d, buf, 16000), STT_EPARSE);
    printf("head.flac: %s\n", stt_decoder_error(d));
    assert_non_null(strstr(stt_decoder_error(d), "no audio frames"));
    stt_decoder_close(d);
    close(fd);
    /* Ogg files cut inside their headers. */
    sh("sox '%s' '%s'", SPEECH, path("full.ogg"));
    uint8_t *ogg = slurp(path("full.ogg"), &n);
    write_file(path("head.ogg"), ogg, 300);
    free(ogg);
    expect_open_error(path("head.ogg"), STT_EPARSE, "not an audio file libsndfile can read");
    /* An MP3 cut in half decodes what is there. */
    sh("sox '%s' '%s'", SPEECH, path("full.mp3"));
    uint8_t *mp3 = slurp(path("full.mp3"), &n);
    write_file(path("half.mp3"), mp3, n / 2);
    free(mp3);
    s = our_decode(path("half.mp3"), 16000, &n, &info);
    assert_true(n > 40000 && n < 70000);
    free(s);
    /* Not a regular file, a bad descriptor. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(stt_decoder_open_fd(p[0], &d, err, sizeof(err)), STT_EIO);
    assert_null(d);
    close(p[0]);
    close(p[1]);
    assert_int_equal(stt_decoder_open_fd(-1, &d, NULL, 0), STT_EINVAL);
    stt_decoder_close(NULL);
}

static void test_raw(void **state)
{
    (void)state;
    /* 8 kHz mu-law made by sox: ours equals the G.711 table of src/audio/g711.c. */
    sh("sox '%s' -r 8000 -t raw -e mu-law -b 8 '%s'", SPEECH, path("ulaw.raw"));
    sh("sox '%s' -r 8000 -t raw -e a-law -b 8 '%s'", SPEECH, path("alaw.raw"));
    size_t nb;
    for (int law = 0; law < 2; law++) {
        uint8_t *codes = slurp(path(law ? "alaw.raw" : "ulaw.raw"), &nb);
        int16_t *want = malloc(nb * 2);
        if (law)
            stt_g711_alaw_decode(codes, nb, want);
        else
            stt_g711_mulaw_decode(codes, nb, want);
        int fd = open(path(law ? "alaw.raw" : "ulaw.raw"), O_RDONLY);
        stt_decoder_t *d;
        char err[256];
        assert_int_equal(stt_decoder_open_raw(fd, law ? STT_PCM_ALAW : STT_PCM_MULAW, 8000, 1, &d,
                                              err, sizeof(err)),
                         0);
        assert_string_equal(stt_decoder_format_name(d), "raw");
        assert_true(fabs(stt_decoder_duration_s(d) - nb / 8000.0) < 1e-9);
        int16_t *got = malloc(nb * 2 + 2);
        long n = stt_decoder_read(d, got, nb + 1);
        assert_int_equal(n, (long)nb);
        assert_memory_equal(got, want, nb * 2);
        stt_decoder_close(d);
        close(fd);
        free(got);
        free(want);
        free(codes);
    }
    /* s16le stereo with an odd trailing byte (ignored), and f32le holding NaN and 2.0. */
    int16_t st[7] = {100, 300, -100, -301, 32767, 32767};
    ((uint8_t *)st)[12] = 0x55;
    write_file(path("st.raw"), st, 13);
    int fd = open(path("st.raw"), O_RDONLY);
    stt_decoder_t *d;
    char err[256];
    assert_int_equal(stt_decoder_open_raw(fd, STT_PCM_S16LE, 48000, 2, &d, err, sizeof(err)), 0);
    assert_int_equal(stt_decoder_channels(d), 2);
    int16_t out[8];
    assert_int_equal(stt_decoder_read(d, out, 8), 3);
    assert_int_equal(out[0], 200);
    assert_true(out[1] == -200 || out[1] == -201);
    assert_int_equal(out[2], 32767);
    stt_decoder_close(d);
    close(fd);
    float f[4] = {NAN, 2.0f, -0.5f, 0.25f};
    write_file(path("f.raw"), f, sizeof(f));
    fd = open(path("f.raw"), O_RDONLY);
    assert_int_equal(stt_decoder_open_raw(fd, STT_PCM_F32LE, 16000, 1, &d, err, sizeof(err)), 0);
    assert_int_equal(stt_decoder_read(d, out, 8), 4);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 32767);
    assert_int_equal(out[2], -16384);
    assert_int_equal(out[3], 8192);
    stt_decoder_close(d);
    /* Parameters out of range, and a file shorter than one frame. */
    assert_int_equal(stt_decoder_open_raw(fd, STT_PCM_S16LE, 7999, 1, &d, err, sizeof(err)),
                     STT_EINVAL);
    assert_non_null(strstr(err, "7999"));
    assert_int_equal(stt_decoder_open_raw(fd, STT_PCM_S16LE, 192001, 1, &d, err, sizeof(err)),
                     STT_EINVAL);
    assert_int_equal(stt_decoder_open_raw(fd, STT_PCM_S16LE, 16000, 9, &d, err, sizeof(err)),
                     STT_EINVAL);
    assert_int_equal(stt_decoder_open_raw(fd, STT_PCM_S16LE, 16000, 0, &d, err, sizeof(err)),
                     STT_EINVAL);
    assert_int_equal(stt_decoder_open_raw(fd, (stt_pcm_format_t)9, 16000, 1, &d, err, sizeof(err)),
                     STT_EINVAL);
    assert_null(d);
    close(fd);
    write_file(path("one.raw"), "x", 1);
    fd = open(path("one.raw"), O_RDONLY);
    assert_int_equal(stt_decoder_open_raw(fd, STT_PCM_S16LE, 16000, 1, &d, err, sizeof(err)),
                     STT_EPARSE);
    assert_string_equal(err, "no audio frames");
    close(fd);
}

/* The descriptor is borrowed: read from offset 0 whatever its offset, which is left as it was,
 * and it stays open after close. */
static void test_fd_contract(void **state)
{
    (void)state;
    int fd = open(SPEECH, O_RDONLY);
    assert_int_equal(lseek(fd, 1234, SEEK_SET), 1234);
    stt_decoder_t *d;
    char err[256];
    assert_int_equal(stt_decoder_open_fd(fd, &d, err, sizeof(err)), 0);
    int16_t buf[4096];
    long total = 0, got;
    while ((got = stt_decoder_read(d, buf, 4096)) > 0)
        total += got;
    assert_int_equal(total, 113600);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 1234);
    stt_decoder_close(d);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 1234); /* still open */
    /* Two decoders on one descriptor at once read the same samples. */
    stt_decoder_t *a, *b;
    assert_int_equal(stt_decoder_open_fd(fd, &a, err, sizeof(err)), 0);
    assert_int_equal(stt_decoder_open_fd(fd, &b, err, sizeof(err)), 0);
    int16_t x[1000], y[1000];
    for (int i = 0; i < 50; i++) {
        assert_int_equal(stt_decoder_read(a, x, 1000), 1000);
        assert_int_equal(stt_decoder_read(b, y, 1000), 1000);
        assert_memory_equal(x, y, sizeof(x));
    }
    stt_decoder_close(a);
    stt_decoder_close(b);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcm_wav),    cmocka_unit_test(test_flac),
        cmocka_unit_test(test_vorbis),     cmocka_unit_test(test_mp3),
        cmocka_unit_test(test_opus),       cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_raw),        cmocka_unit_test(test_fd_contract),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
