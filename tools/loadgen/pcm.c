/* stt-loadgen's audio: loads the speech file once, at the send rate, and says which samples
 * frame k of a call carries and when it is due. Every call plays the same file, alternated with
 * silence so that the call talks the talk ratio of the time, starting at its own phase.
 *
 * Threading: the loop thread. Ownership: the PCM belongs to the loadgen_t (see loadgen.h); the
 * frames handed out are borrowed from it.
 */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen.h"
#include "stt/error.h"
#include "stt/log.h"
#include "stt/resample.h"

int lg_pcm_load(loadgen_t *g)
{
    SF_INFO info;
    SNDFILE *sf = stt_tool_sf_open("stt-loadgen", g->o.wav, &info);
    if (!sf)
        return STT_EIO;
    if (info.channels < 1 || info.samplerate < 1 || info.frames < 1) {
        fprintf(stderr, "stt-loadgen: %s: no audio\n", g->o.wav);
        sf_close(sf);
        return STT_EUNSUPPORTED;
    }
    size_t n_in = (size_t)info.frames;
    float *f = stt_malloc(n_in * (size_t)info.channels * sizeof(float));
    sf_count_t got = sf_readf_float(sf, f, info.frames);
    sf_close(sf);
    if (got <= 0) {
        fprintf(stderr, "stt-loadgen: %s: read error\n", g->o.wav);
        free(f);
        return STT_EIO;
    }
    n_in = (size_t)got;
    int16_t *mono = stt_malloc(n_in * sizeof(int16_t));
    stt_tool_mix_to_mono(f, n_in, info.channels, mono);
    free(f);

    int16_t *pcm = mono;
    size_t n = n_in;
    if (info.samplerate != g->o.rate_hz) {
        stt_resampler_t *rs =
            stt_resampler_create(info.samplerate, g->o.rate_hz, STT_RESAMPLE_QUALITY_DEFAULT);
        if (!rs) {
            fprintf(stderr, "stt-loadgen: cannot resample %d Hz to %d Hz\n", info.samplerate,
                    g->o.rate_hz);
            free(mono);
            return STT_EUNSUPPORTED;
        }
        /* A tenth of a second of zeros flushes the filter delay out with the speech. */
        size_t flush = (size_t)info.samplerate / 10;
        size_t total_in = n_in + flush;
        uint8_t *le = stt_calloc(total_in, 2);
        stt_tool_s16_to_le(mono, n_in, le);
        size_t cap = stt_resampler_max_output(rs, total_in);
        pcm = stt_malloc(cap * sizeof(int16_t));
        int rc = stt_resampler_process(rs, le, total_in, pcm, cap, &n);
        stt_resampler_destroy(rs);
        free(le);
        free(mono);
        if (rc < 0 || n == 0) {
            fprintf(stderr, "stt-loadgen: resampling failed: %s\n", stt_strerror(rc));
            free(pcm);
            return rc < 0 ? rc : STT_EIO;
        }
    }

    size_t fs = g->frame_samples;
    g->speech_frames = (int64_t)((n + fs - 1) / fs);
    g->speech = stt_calloc((size_t)g->speech_frames * fs, sizeof(int16_t));
    memcpy(g->speech, pcm, n * sizeof(int16_t));
    free(pcm);
    g->file_s = (double)n / g->o.rate_hz;

    /* Speech onset and end by frame energy against the loudest frame: the measurements start
     * from the speech, not from the file's leading or trailing room noise. */
    double peak = 0;
    double *rms = stt_malloc((size_t)g->speech_frames * sizeof(double));
    for (int64_t k = 0; k < g->speech_frames; k++) {
        double acc = 0;
        for (size_t i = 0; i < fs; i++) {
            double x = g->speech[(size_t)k * fs + i];
            acc += x * x;
        }
        rms[k] = sqrt(acc / (double)fs);
        if (rms[k] > peak)
            peak = rms[k];
    }
    double thr = peak * pow(10.0, SPEECH_THRESHOLD_DB / 20.0);
    int64_t first = -1, last = -1;
    for (int64_t k = 0; k < g->speech_frames; k++) {
        if (rms[k] >= thr && rms[k] > 0) {
            if (first < 0)
                first = k;
            last = k;
        }
    }
    free(rms);
    if (first < 0) {
        fprintf(stderr, "stt-loadgen: %s: no speech found (all silence)\n", g->o.wav);
        return STT_EINVAL;
    }
    g->onset_us = first * g->frame_us;
    g->end_us = (last + 1) * g->frame_us;
    return 0;
}

int64_t lg_pcm_frame_due_us(const loadgen_t *g, const lg_call_t *c, uint64_t k)
{
    return c->t_start_us + (int64_t)k * g->frame_us;
}

int64_t lg_pcm_utt_start_us(const loadgen_t *g, const lg_call_t *c, int u)
{
    return c->t_start_us + (c->offset_frames + (int64_t)u * g->cycle_frames) * g->frame_us;
}

/* Frame k of a call: silence before the first utterance, then cycles of the speech file and a
 * gap. Sets *u and *pos to the utterance and the frame within it, or *u = -1 for silence. */
const int16_t *lg_pcm_frame(const loadgen_t *g, const lg_call_t *c, uint64_t k, int *u,
                            int64_t *pos)
{
    *u = -1;
    *pos = 0;
    if ((int64_t)k < c->offset_frames)
        return g->silence;
    int64_t j = (int64_t)k - c->offset_frames;
    int64_t cyc = j / g->cycle_frames, r = j % g->cycle_frames;
    if (cyc >= c->u_planned || r >= g->speech_frames)
        return g->silence;
    *u = (int)cyc;
    *pos = r;
    return g->speech + (size_t)r * g->frame_samples;
}

void lg_pcm_plan_call(loadgen_t *g, lg_call_t *c, int64_t established_us)
{
    /* Whole milliseconds after the epoch, so every frame falls exactly on a wheel slot. */
    int64_t ms = (established_us - g->epoch_us + 999) / 1000;
    c->t_start_us = g->epoch_us + ms * 1000;
    c->next_frame = 0;
    /* Golden-ratio spread of the start phase over one whole cycle: once every call has run a
     * cycle, the fraction talking at any moment is the talk ratio instead of a burst. */
    double phase = fmod((c->idx + 1) * 0.6180339887498949, 1.0);
    c->offset_frames = (int64_t)(phase * (double)g->cycle_frames);
    int64_t avail_frames = (g->deadline_us - g->drain_us - c->t_start_us) / g->frame_us;
    int64_t room = avail_frames - c->offset_frames - g->speech_frames;
    c->u_planned = room < 0 ? 0 : (int)(room / g->cycle_frames + 1);
}
