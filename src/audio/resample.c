/* Streaming 16-bit mono resampler on top of the speexdsp resampler.
 *
 * Input arrives as raw little-endian bytes straight out of a protocol frame, so it may sit at an
 * odd address; it is decoded block by block into an aligned scratch buffer of fixed size (no
 * per-call allocation, bounded memory whatever the frame size) and each block is fed to speexdsp
 * until it is fully consumed. Output goes straight into the caller's buffer.
 *
 * speexdsp keeps the filter history between calls, so chunk boundaries are seamless and the total
 * output length tracks in_samples * out_rate / in_rate to within a sample over the whole stream.
 * Its integer entry point rounds and saturates to int16 (Debian builds the float variant, whose
 * WORD2INT clamps), so filter overshoot on full-scale input clips instead of wrapping.
 *
 * When both rates are equal at creation the samples are only copied. Once a rate change has made a
 * speexdsp state necessary it is kept even if the rates become equal again: the samples still in
 * its filter memory must come out, and a 1:1 speexdsp pass is cheap enough for the rare case. */
#include "stt/resample.h"

#include <stdlib.h>

#include <speex/speex_resampler.h>

#include "stt/error.h"
#include "stt/log.h"

/* Samples decoded per block: 1024 keeps the struct small (2 KiB) while amortising the speexdsp
 * call overhead. */
#define SCRATCH_SAMPLES 1024

#define RATE_MIN_HZ 1000
#define RATE_MAX_HZ 192000

struct stt_resampler {
    SpeexResamplerState *st; /* NULL while rates are equal and never changed (copy mode) */
    int in_rate_hz;
    int out_rate_hz;
    int quality;
    /* Input samples that may be held back in the filter and emitted on a later call (the longest
     * filter used so far); max_output() adds them so a rate change, which can release held
     * samples ("magic samples" in speexdsp), never overruns the caller's buffer. */
    size_t held_bound_samples;
    int16_t scratch[SCRATCH_SAMPLES];
};

static int rate_ok(int hz)
{
    return hz >= RATE_MIN_HZ && hz <= RATE_MAX_HZ;
}

static void note_latency(stt_resampler_t *r)
{
    if (!r->st)
        return;
    /* get_input_latency() is half the filter length; the whole filter may hold samples. */
    size_t held = 2 * (size_t)speex_resampler_get_input_latency(r->st) + 2;
    if (held > r->held_bound_samples)
        r->held_bound_samples = held;
}

static int make_state(stt_resampler_t *r)
{
    int err = 0;
    r->st = speex_resampler_init(1, (spx_uint32_t)r->in_rate_hz, (spx_uint32_t)r->out_rate_hz,
                                 r->quality, &err);
    if (!r->st) {
        /* speexdsp only fails on bad arguments or allocation; ours are validated already. */
        if (err == RESAMPLER_ERR_ALLOC_FAILED)
            stt_fatal(__FILE__, __LINE__, "speex_resampler_init");
        return STT_EINVAL;
    }
    note_latency(r);
    return 0;
}

stt_resampler_t *stt_resampler_create(int in_rate_hz, int out_rate_hz, int quality)
{
    if (!rate_ok(in_rate_hz) || !rate_ok(out_rate_hz))
        return NULL;
    if (quality < SPEEX_RESAMPLER_QUALITY_MIN || quality > SPEEX_RESAMPLER_QUALITY_MAX)
        return NULL;
    stt_resampler_t *r = stt_calloc(1, sizeof(*r));
    r->in_rate_hz = in_rate_hz;
    r->out_rate_hz = out_rate_hz;
    r->quality = quality;
    if (in_rate_hz != out_rate_hz && make_state(r) != 0) {
        stt_resampler_destroy(r);
        return NULL;
    }
    return r;
}

void stt_resampler_destroy(stt_resampler_t *r)
{
    if (!r)
        return;
    if (r->st)
        speex_resampler_destroy(r->st);
    free(r);
}

int stt_resampler_set_input_rate(stt_resampler_t *r, int in_rate_hz)
{
    if (!r || !rate_ok(in_rate_hz))
        return STT_EINVAL;
    if (in_rate_hz == r->in_rate_hz)
        return 0;
    int old = r->in_rate_hz;
    r->in_rate_hz = in_rate_hz;
    if (!r->st) {
        /* Copy mode holds no history, so a fresh filter loses nothing. */
        if (make_state(r) != 0) {
            r->in_rate_hz = old;
            return STT_EINVAL;
        }
        return 0;
    }
    /* set_rate keeps the filter memory and re-interpolates it for the new filter length. */
    if (speex_resampler_set_rate(r->st, (spx_uint32_t)in_rate_hz, (spx_uint32_t)r->out_rate_hz) !=
        RESAMPLER_ERR_SUCCESS) {
        r->in_rate_hz = old;
        return STT_EINVAL;
    }
    note_latency(r);
    return 0;
}

int stt_resampler_input_rate(const stt_resampler_t *r)
{
    return r ? r->in_rate_hz : 0;
}

size_t stt_resampler_max_output(const stt_resampler_t *r, size_t in_samples)
{
    if (!r->st)
        return in_samples;
    /* ceil((in + held) * out / in) plus one for the fractional phase carried between calls.
     * 64-bit arithmetic: in_samples is capped by the caller's frame limit long before
     * (in + held) * 192000 could overflow. */
    uint64_t n = (uint64_t)in_samples + r->held_bound_samples;
    uint64_t num = n * (uint64_t)r->out_rate_hz + (uint64_t)r->in_rate_hz - 1;
    return (size_t)(num / (uint64_t)r->in_rate_hz) + 1;
}

/* Decodes n little-endian samples from possibly unaligned bytes. */
static void decode_le(int16_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (int16_t)(uint16_t)((unsigned)src[2 * i] | ((unsigned)src[2 * i + 1] << 8));
}

int stt_resampler_process(stt_resampler_t *r, const uint8_t *in, size_t in_samples, int16_t *out,
                          size_t out_cap, size_t *out_samples)
{
    *out_samples = 0;
    if (!r || (in_samples && (!in || !out)))
        return STT_EINVAL;
    if (out_cap < stt_resampler_max_output(r, in_samples))
        return STT_EINVAL;

    if (!r->st) {
        decode_le(out, in, in_samples);
        *out_samples = in_samples;
        return 0;
    }

    size_t written = 0;
    size_t done = 0;
    while (done < in_samples) {
        size_t block = in_samples - done;
        if (block > SCRATCH_SAMPLES)
            block = SCRATCH_SAMPLES;
        decode_le(r->scratch, in + 2 * done, block);
        size_t used = 0;
        while (used < block) {
            spx_uint32_t ilen = (spx_uint32_t)(block - used);
            size_t room = out_cap - written;
            spx_uint32_t olen = room > UINT32_MAX ? UINT32_MAX : (spx_uint32_t)room;
            speex_resampler_process_int(r->st, 0, r->scratch + used, &ilen, out + written, &olen);
            if (ilen == 0 && olen == 0) {
                /* No progress means the output is full, which max_output() rules out; fail
                 * loudly rather than spin or drop audio. */
                *out_samples = written;
                return STT_ETOOBIG;
            }
            used += ilen;
            written += olen;
        }
        done += block;
    }
    *out_samples = written;
    return 0;
}
