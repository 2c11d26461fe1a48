/* stt-vad: runs stt-server's voice activity detector over an audio file, offline, and prints
 * its per-chunk decisions; bench/vad_compare.py and the Silero reference test use it.
 *
 *   stt-vad [--vad energy|silero] [--silero_model PATH] [--silero_sensitivity S]
 *           [--webrtc_sensitivity W] [--raw] [--bench] FILE
 *
 * FILE is anything libsndfile reads (WAV, mu-law WAV, FLAC, ...), any rate; the first channel
 * is resampled to 16 kHz exactly as a stream does (speexdsp, quality 4). Output, one line per
 * 512-sample chunk: "chunk score energy_score onset active ran_silero". --raw prints Silero's
 * probability of every chunk, without the cascade ("chunk p"). --bench prints only the time per
 * chunk spent in the detector (JSON). Exit status 0, or 2 with one line on stderr. */
#include "stt/resample.h"
#include "stt/silero.h"
#include "stt/vad.h"

#include <sndfile.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int16_t *read_16k(const char *path, size_t *n_out)
{
    SF_INFO info;
    memset(&info, 0, sizeof(info));
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf) {
        fprintf(stderr, "stt-vad: %s: %s\n", path, sf_strerror(NULL));
        return NULL;
    }
    size_t frames = (size_t)info.frames;
    int16_t *all = malloc((frames ? frames : 1) * (size_t)info.channels * sizeof(int16_t));
    int16_t *mono = malloc((frames ? frames : 1) * sizeof(int16_t));
    sf_count_t got = sf_readf_short(sf, all, (sf_count_t)frames);
    sf_close(sf);
    for (sf_count_t i = 0; i < got; i++)
        mono[i] = all[i * info.channels];
    free(all);
    stt_resampler_t *rs = stt_resampler_create(info.samplerate, 16000, STT_RESAMPLE_QUALITY_DEFAULT);
    if (!rs) {
        fprintf(stderr, "stt-vad: %s: rate %d Hz not supported\n", path, info.samplerate);
        free(mono);
        return NULL;
    }
    size_t cap = stt_resampler_max_output(rs, (size_t)got) + 1;
    int16_t *out = malloc(cap * sizeof(int16_t));
    size_t n = 0;
    stt_resampler_process(rs, (const uint8_t *)mono, (size_t)got, out, cap, &n);
    stt_resampler_destroy(rs);
    free(mono);
    *n_out = n;
    return out;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const char *vad = "energy", *model_path = NULL, *file = NULL;
    double sens = 0.05;
    int webrtc = 3, raw = 0, bench = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--vad") == 0 && has)
            vad = argv[++i];
        else if (strcmp(a, "--silero_model") == 0 && has)
            model_path = argv[++i];
        else if (strcmp(a, "--silero_sensitivity") == 0 && has)
            sens = atof(argv[++i]);
        else if (strcmp(a, "--webrtc_sensitivity") == 0 && has)
            webrtc = atoi(argv[++i]);
        else if (strcmp(a, "--raw") == 0)
            raw = 1;
        else if (strcmp(a, "--bench") == 0)
            bench = 1;
        else if (a[0] != '-' && !file)
            file = a;
        else {
            fprintf(stderr, "usage: stt-vad [--vad energy|silero] [--silero_model PATH] "
                            "[--silero_sensitivity S] [--webrtc_sensitivity W] [--raw] [--bench] "
                            "FILE\n");
            return 2;
        }
    }
    int silero = strcmp(vad, "silero") == 0 || raw;
    if (!file || (!silero && strcmp(vad, "energy") != 0) || (silero && !model_path)) {
        fprintf(stderr, "stt-vad: need FILE, --vad energy|silero, and --silero_model for silero\n");
        return 2;
    }
    stt_silero_model_t *m = NULL;
    char err[512];
    if (silero && stt_silero_model_load(model_path, &m, err, sizeof(err)) != 0) {
        fprintf(stderr, "stt-vad: %s\n", err);
        return 2;
    }
    size_t n;
    int16_t *pcm = read_16k(file, &n);
    if (!pcm) {
        stt_silero_model_destroy(m);
        return 2;
    }
    size_t chunks = n / STT_VAD_CHUNK_SAMPLES;
    if (raw) {
        stt_silero_t s;
        stt_silero_init(&s, m, STT_SILERO_CONTEXT);
        for (size_t c = 0; c < chunks; c++)
            printf("%zu %.7f\n", c, stt_silero_process(&s, pcm + c * STT_VAD_CHUNK_SAMPLES));
    } else {
        stt_vad_params_t p = stt_vad_default_params();
        stt_vad_params_from_sensitivity(&p, sens, webrtc);
        p.silero = m;
        stt_vad_t v;
        stt_vad_init(&v, &p);
        double t0 = now_s();
        size_t ran = 0;
        for (size_t c = 0; c < chunks; c++) {
            stt_vad_result_t r = stt_vad_process(&v, pcm + c * STT_VAD_CHUNK_SAMPLES);
            ran += (size_t)r.ran_silero;
            if (!bench)
                printf("%zu %.4f %.4f %d %d %d\n", c, r.score, r.energy_score, r.onset, r.active,
                       r.ran_silero);
        }
        double dt = now_s() - t0;
        if (bench)
            printf("{\"vad\": \"%s\", \"chunks\": %zu, \"silero_chunks\": %zu, "
                   "\"us_per_chunk\": %.2f}\n",
                   vad, chunks, ran, chunks ? dt / (double)chunks * 1e6 : 0.0);
        stt_vad_dispose(&v);
    }
    free(pcm);
    stt_silero_model_destroy(m);
    return 0;
}
