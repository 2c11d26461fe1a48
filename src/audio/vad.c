/* Voice activity detector: level over an adaptive noise floor, periodicity and speech-band
 * energy, combined into one 0..1 score per 32 ms chunk.
 *
 * Features (at 16 kHz, after a 100 Hz high-pass that removes DC and mains hum), per chunk of
 * four 8 ms sub-frames:
 *   - snr_db: the loudest sub-frame of the chunk, in dB over the noise floor. Sub-frames below
 *     -65 dBFS (ABS_GATE_DBFS, about 1 LSB rms times 20) never count.
 *   - voicing: peak normalised autocorrelation over pitch lags 60-400 Hz of the chunk (32 ms),
 *     computed on a 1.5 kHz low-passed copy decimated to 4 kHz. Voiced speech gives 0.7-0.98,
 *     white and pink noise 0.2-0.41: this keeps noise, steady or not, from reading as speech
 *     even before the floor has caught up with it.
 *   - band_ratio: share of the energy below 3400 Hz (the telephone band, where speech lives);
 *     about 0.42 for white noise, 0.9-1.0 for speech and for anything band-limited.
 *
 * score = A * (0.45 + 0.20 * B + 0.35 * V), where
 *   A = clamp((snr_db - min_snr_db) / 10 dB, 0, 1),
 *   V = clamp((voicing - 0.45) / 0.25, 0, 1),
 *   B = clamp((band_ratio - 0.40) / 0.35, 0, 1).
 * Loud voiced speech scores ~1.0, loud unvoiced in-band sound 0.65, loud white noise ~0.45,
 * anything within min_snr_db (6 dB) of the floor 0.
 *
 * Noise floor, by minimum statistics: the minimum of a 24 ms running level over the last
 * floor_adapt_s (default 2 s, in 200 ms blocks), +1 dB. It follows a quieter level at once and a
 * louder one within floor_adapt_s, needs no speech decision (so there is no feedback loop in
 * which speech taken for noise raises the floor), and speech cannot drag it up because speech
 * has gaps within any 2 s. Digital silence is left out of it, the first floor is a full 24 ms
 * average, and it never goes below the -65 dBFS gate. Steady white or pink noise stays within
 * 0.4 / 3.7 dB of it, under min_snr_db.
 *
 * Decisions per chunk:
 *   onset  = score > onset_threshold; no hangover: it is the "something started" hint.
 *   active = speech, entered when score > active_threshold, held while the score stays above
 *            onset_threshold for at most LOOSE_HOLD_CHUNKS (16 = 512 ms: unvoiced consonants
 *            inside speech), then kept STT_VAD_HANGOVER_CHUNKS (4 = 128 ms) more so that short
 *            pauses inside and between words do not flip it. So the last active chunk is exactly
 *            4 chunks after the last chunk judged speech.
 * Speech that starts within the first 24 ms of a stream sets the first floor and is missed until
 * its first pause; a client normally sends some lead-in first.
 *
 * Mapping of the original RealtimeSTT knobs (stt_vad_params_from_sensitivity):
 *
 *   silero_sensitivity s (0..1, default 0.05): the original calls a chunk speech when Silero's
 *   probability p > 1 - s, so a higher s means more speech. Here
 *       active_threshold = clamp(1 - s, 0.05, 0.99)
 *   on our score, which is calibrated to the same scale: clear voiced speech scores > 0.95,
 *   unvoiced speech-band sound 0.65, broadband noise <= 0.5. So the default s = 0.05 (threshold
 *   0.95) demands voiced speech, s >= 0.4 (<= 0.6) also accepts unvoiced speech-band sound, and
 *   s >= 0.55 (<= 0.45) any sound well above the noise floor.
 *
 *   webrtc_sensitivity w (0..3, default 3): WebRTC VAD's aggressiveness mode, 3 = least likely to
 *   call noise speech. Here it sets the loose onset test:
 *       onset_threshold = 0.30 + 0.10 * w    (w = 0, 1, 2, 3 -> 0.30, 0.40, 0.50, 0.60)
 *   At w = 3 a chunk needs speech-band energy or periodicity on top of level; at w = 0 level
 *   alone (about 13 dB over the floor for broadband sound) is enough. Out-of-range w clamps.
 *
 * min_snr_db (default 6 dB) and floor_adapt_s (default 2 s) have no counterpart in the original.
 * The defaults (s = 0.05, w = 3) are the original's defaults. */
#include "stt/vad.h"

#include "stt/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 8 ms sub-frames: four per chunk exactly, so a chunk's decision depends only on its own
 * samples (plus filter and floor history) and its boundaries are the chunk's. */
#define SUBFRAME_SAMPLES 128
#define SUBFRAMES_PER_CHUNK (STT_VAD_CHUNK_SAMPLES / SUBFRAME_SAMPLES)
#define ABS_GATE_DBFS (-65.0)
#define SILENCE_DBFS (-100.0)
#define DIGITAL_SILENCE_MS 1e-9 /* -90 dBFS: a signal of +-1 LSB or less */
#define SNR_SPAN_DB 10.0
#define FLOOR_BLOCK_S 0.2
#define FLOOR_BLOCK_SUBFRAMES 25 /* FLOOR_BLOCK_S / 8 ms */
#define FLOOR_BIAS_DB 1.0
#define LOOSE_HOLD_CHUNKS 16

/* Pitch analysis on the 4 kHz decimated signal: a 32 ms window and lags for 60..400 Hz. */
#define DECIM 4
#define PITCH_WIN 128
#define PITCH_LAG_MIN 10
#define PITCH_LAG_MAX 66
#define PITCH_MASK (STT_VAD_PITCH_HIST - 1)

_Static_assert((STT_VAD_PITCH_HIST & PITCH_MASK) == 0, "pitch history must be a power of two");
_Static_assert(PITCH_WIN + PITCH_LAG_MAX <= STT_VAD_PITCH_HIST, "pitch history too short");

/* Butterworth biquads at 16 kHz (RBJ cookbook), {b0, b1, b2, a1, a2}. Constants rather than
 * computed at init because the VAD only ever runs at 16 kHz. */
enum { F_HP100, F_LP3400, F_LP1500A, F_LP1500B, F_COUNT };
static const double coef[F_COUNT][5] = {
    /* 100 Hz high-pass, Q 0.7071 */
    {0.972613646554, -1.94522729311, 0.972613646554, -1.94447715407, 0.945977432147},
    /* 3400 Hz low-pass, Q 0.7071 */
    {0.227117076514, 0.454234153028, 0.227117076514, -0.276663533503, 0.18513183956},
    /* 1500 Hz 4th-order low-pass (Q 0.5412 and 1.3066): anti-alias for decimation by 4 */
    {0.0556839458881, 0.111367891776, 0.0556839458881, -1.09889995583, 0.32163573938},
    {0.0694912500348, 0.13898250007, 0.0694912500348, -1.37138147047, 0.649346470608},
};
_Static_assert(F_COUNT == sizeof(((stt_vad_t *)0)->iir) / sizeof(((stt_vad_t *)0)->iir[0]),
               "one filter memory per section");

static double biquad(double *z, const double *c, double x)
{
    double y = c[0] * x + z[0];
    z[0] = c[1] * x - c[3] * y + z[1];
    z[1] = c[2] * x - c[4] * y;
    return y;
}

static double clamp01(double x)
{
    return x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x);
}

stt_vad_params_t stt_vad_default_params(void)
{
    stt_vad_params_t p = {
        .active_threshold = 0.95,
        .onset_threshold = 0.60,
        .min_snr_db = 6.0,
        .floor_adapt_s = 2.0,
    };
    return p;
}

void stt_vad_params_from_sensitivity(stt_vad_params_t *p, double silero_sensitivity,
                                     int webrtc_sensitivity)
{
    double a = 1.0 - silero_sensitivity;
    p->active_threshold = a < 0.05 ? 0.05 : (a > 0.99 ? 0.99 : a);
    int w = webrtc_sensitivity < 0 ? 0 : (webrtc_sensitivity > 3 ? 3 : webrtc_sensitivity);
    p->onset_threshold = 0.30 + 0.10 * w;
}

void stt_vad_init(stt_vad_t *v, const stt_vad_params_t *p)
{
    memset(v, 0, sizeof(*v));
    v->p = p ? *p : stt_vad_default_params();
    v->noise_floor_db = SILENCE_DBFS;
    v->speech_level_db = SILENCE_DBFS;
    if (v->p.silero) {
        v->silero = stt_malloc(sizeof(*v->silero));
        stt_silero_init(v->silero, v->p.silero, STT_SILERO_CONTEXT);
    }
}

void stt_vad_set_params(stt_vad_t *v, const stt_vad_params_t *p)
{
    const stt_silero_model_t *m = v->p.silero;
    v->p = *p;
    v->p.silero = m;
}

void stt_vad_dispose(stt_vad_t *v)
{
    free(v->silero);
    v->silero = NULL;
}

/* Dot product of two PITCH_WIN-sample windows. Eight independent partial sums let the compiler
 * use SIMD lanes; one running sum is a serial chain of additions it may not reorder, and this is
 * the VAD's inner loop (57 lags x 128 samples per voiced chunk). Float keeps 7 digits, far more
 * than the 0.01 steps the score is read at. */
static float dot_win(const float *a, const float *b)
{
    float s[8] = {0};
    for (unsigned i = 0; i < PITCH_WIN; i += 8)
        for (unsigned k = 0; k < 8; k++)
            s[k] += a[i + k] * b[i + k];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

_Static_assert(PITCH_WIN % 8 == 0, "dot_win takes the window in steps of eight");

/* Peak normalised cross-correlation of the last PITCH_WIN decimated samples with their past,
 * over the pitch lags. 0 for (near) silence. */
static double voicing(const stt_vad_t *v)
{
    /* The window and everything the lags reach, unwrapped from the ring once, oldest first:
     * w[PITCH_SPAN - PITCH_WIN + i] is the window's sample i, w[k - lag] lags it by `lag`. The
     * contiguous copy lets the inner loops run without masking. */
    enum { PITCH_SPAN = PITCH_WIN + PITCH_LAG_MAX + 1 };
    float w[PITCH_SPAN];
    unsigned end = v->pitch_pos; /* one past the newest sample */
    for (unsigned i = 0; i < PITCH_SPAN; i++)
        w[i] = v->pitch_hist[(end - PITCH_SPAN + i) & PITCH_MASK];
    const float *x0 = w + (PITCH_SPAN - PITCH_WIN);
    double e0 = dot_win(x0, x0);
    if (e0 < 1e-3)
        return 0.0;
    double best = 0.0;
    /* Energy of the lagged window, updated incrementally as the lag grows. */
    double el = dot_win(x0 - PITCH_LAG_MIN, x0 - PITCH_LAG_MIN);
    for (unsigned lag = PITCH_LAG_MIN; lag <= PITCH_LAG_MAX; lag++) {
        const float *xl = x0 - lag;
        if (el > 1e-3) {
            double r = dot_win(x0, xl) / sqrt(e0 * el);
            best = r > best ? r : best;
        }
        /* Slide the lagged window one sample further into the past. */
        double in = xl[-1], out = xl[PITCH_WIN - 1];
        el += in * in - out * out;
    }
    return best;
}

typedef struct {
    double max_snr_db;
    double energy;
    double band_energy;
} chunk_acc_t;

static unsigned floor_blocks(const stt_vad_t *v)
{
    double n = v->p.floor_adapt_s / FLOOR_BLOCK_S;
    unsigned max = sizeof(v->block_min_db) / sizeof(v->block_min_db[0]);
    return n < 2.0 ? 2 : (n > max ? max : (unsigned)lrint(n));
}

/* Minimum statistics: the floor is the lowest 30 ms level seen in the current block and the
 * previous floor_blocks() - 1 blocks. It follows a quieter level at once and a louder one after
 * at most floor_adapt_s, needs no speech decision (so no feedback loop where speech mistaken for
 * noise raises the floor), and speech cannot drag it up because speech has gaps and stops well
 * within a second. */
static void update_floor(stt_vad_t *v, double level_db)
{
    unsigned nb = floor_blocks(v);
    if (v->block_fill == 0 || level_db < v->block_min_db[v->block_idx])
        v->block_min_db[v->block_idx] = level_db;
    double fl = v->block_min_db[v->block_idx];
    for (unsigned i = 1; i < nb && (int)i <= v->warm; i++) {
        double b = v->block_min_db[(v->block_idx + 16 - i) % 16];
        fl = b < fl ? b : fl;
    }
    v->noise_floor_db = fl + FLOOR_BIAS_DB;
    if (++v->block_fill == FLOOR_BLOCK_SUBFRAMES) {
        v->block_fill = 0;
        v->block_idx = (v->block_idx + 1) % 16;
        if (v->warm < 16)
            v->warm++; /* number of completed blocks, capped */
    }
}

/* Scores one 8 ms sub-frame (sum of squares `energy`) against the floor, then moves the
 * floor. */
static void end_subframe(stt_vad_t *v, chunk_acc_t *acc, double energy)
{
    double ms = energy / SUBFRAME_SAMPLES / (32768.0 * 32768.0);
    double e_db = ms > 1e-10 ? 10.0 * log10(ms) : SILENCE_DBFS;
    /* Digital silence (a resampler's leading zeros, a muted client) says nothing about the room:
     * it is left out of the floor, or room tone right after it would look like speech. */
    if (ms >= DIGITAL_SILENCE_MS) {
        /* The floor tracks a 24 ms average: the minimum of single 8 ms frames would sit several
         * dB under the mean of fluctuating noise. At the very start fewer frames exist. */
        v->recent_ms[2] = v->recent_ms[1];
        v->recent_ms[1] = v->recent_ms[0];
        v->recent_ms[0] = ms;
        if (v->recent_n < 3)
            v->recent_n++;
        double avg = 0;
        for (unsigned i = 0; i < v->recent_n; i++)
            avg += v->recent_ms[i];
        avg /= v->recent_n;
        /* Nor does the floor go below the absolute gate, under which nothing counts anyway.
         * The first floor is taken from a full 24 ms average, so that a partly silent first
         * frame (a resampler's ramp-in) does not set it too low. */
        double level_db = 10.0 * log10(avg);
        if (v->recent_n == 3)
            update_floor(v, level_db > ABS_GATE_DBFS ? level_db : ABS_GATE_DBFS);
    }

    /* No SNR before the first floor exists (the first 24 ms of sound). */
    int have_floor = v->warm > 0 || v->block_fill > 0;
    double snr = e_db - v->noise_floor_db;
    if (have_floor && e_db > ABS_GATE_DBFS && snr > acc->max_snr_db)
        acc->max_snr_db = snr;
    /* Diagnostics only: a slow average of the level of speech sub-frames. */
    if (v->in_speech && snr > v->p.min_snr_db)
        v->speech_level_db += (e_db - v->speech_level_db) * 0.05;
}

/* True when the chunk is all zeros and every filter has come to rest at exactly zero: the
 * filters would then output exact zeros, so running them can be skipped without changing a bit of
 * the result. Muted microphones, telephony silence suppression (mu-law 0xFF) and a load
 * generator's gaps send such chunks; the filters are most of the VAD's cost. */
static int digital_rest(const stt_vad_t *v, const int16_t *chunk)
{
    for (int f = 0; f < F_COUNT; f++)
        if (v->iir[f][0] != 0.0 || v->iir[f][1] != 0.0)
            return 0;
    int any = 0;
    for (unsigned i = 0; i < STT_VAD_CHUNK_SAMPLES; i++)
        any |= chunk[i];
    return any == 0;
}

_Static_assert(STT_VAD_CHUNK_SAMPLES % DECIM == 0, "a chunk leaves the decimator's phase as is");

/* Runs the chunk through the filters, feeding the decimated pitch history and scoring each
 * sub-frame; or, on a digital rest, does what that would do without the arithmetic. */
static void filter_chunk(stt_vad_t *v, const int16_t *x, chunk_acc_t *acc)
{
    if (digital_rest(v, x)) {
        for (unsigned i = 0; i < STT_VAD_CHUNK_SAMPLES / DECIM; i++)
            v->pitch_hist[v->pitch_pos++ & PITCH_MASK] = 0.0f;
        for (unsigned sf = 0; sf < SUBFRAMES_PER_CHUNK; sf++)
            end_subframe(v, acc, 0.0);
        return;
    }
    for (unsigned sf = 0; sf < SUBFRAMES_PER_CHUNK; sf++) {
        double energy = 0;
        for (unsigned i = 0; i < SUBFRAME_SAMPLES; i++) {
            double h = biquad(v->iir[F_HP100], coef[F_HP100], (double)*x++);
            double b = biquad(v->iir[F_LP3400], coef[F_LP3400], h);
            double l = biquad(v->iir[F_LP1500A], coef[F_LP1500A], h);
            l = biquad(v->iir[F_LP1500B], coef[F_LP1500B], l);
            if (++v->decim_phase == DECIM) {
                v->decim_phase = 0;
                v->pitch_hist[v->pitch_pos & PITCH_MASK] = (float)l;
                v->pitch_pos++;
            }
            energy += h * h;
            acc->band_energy += b * b;
        }
        acc->energy += energy;
        end_subframe(v, acc, energy);
    }
    /* Keep the IIR memories out of the denormal range after long digital silence (and let them
     * reach the exact zero that digital_rest looks for). */
    for (int f = 0; f < F_COUNT; f++)
        for (int k = 0; k < 2; k++)
            if (fabs(v->iir[f][k]) < 1e-15)
                v->iir[f][k] = 0.0;
}

/* The energy detector's score of one chunk (and its features, kept for diagnostics). */
static double energy_score(stt_vad_t *v, const int16_t *chunk, double *level)
{
    chunk_acc_t acc = {.max_snr_db = -200.0};
    filter_chunk(v, chunk, &acc);
    v->pitch_pos &= PITCH_MASK;
    v->chunks++;

    double ratio = acc.energy > 0 ? acc.band_energy / acc.energy : 0.0;
    double a = clamp01((acc.max_snr_db - v->p.min_snr_db) / SNR_SPAN_DB);
    /* The score is a product with `a`: below the SNR gate the pitch search (the costliest part,
     * ~7,000 multiply-adds) cannot change it, so it is skipped for the silent chunks that make
     * up most of a call (the loop thread ran the VAD for 29 % of its time at 2,000 calls). */
    double vo = a > 0 ? voicing(v) : 0.0;
    double vv = clamp01((vo - 0.45) / 0.25);
    double bb = clamp01((ratio - 0.40) / 0.35);
    v->last_snr_db = acc.max_snr_db;
    v->last_voicing = vo;
    v->last_band_ratio = ratio;
    *level = a;
    return a * (0.45 + 0.20 * bb + 0.35 * vv);
}

stt_vad_result_t stt_vad_process(stt_vad_t *v, const int16_t *chunk)
{
    stt_vad_result_t r = {0};
    double level;
    r.energy_score = energy_score(v, chunk, &level);
    r.energy_onset = r.energy_score > v->p.onset_threshold;
    r.score = r.energy_score;
    if (v->silero) {
        /* The cascade: Silero only where the energy detector hears something over its floor,
         * or while speech is active (so that its end is Silero's decision). */
        if (level > 0 || v->in_speech || v->hang_chunks > 0) {
            r.score = stt_silero_process(v->silero, chunk);
            r.ran_silero = 1;
        } else {
            stt_silero_skip(v->silero, chunk);
            r.score = 0.0;
        }
    }

    r.onset = r.score > v->p.onset_threshold;
    if (r.score > v->p.active_threshold) {
        v->in_speech = 1;
        v->unvoiced_run = 0;
    } else if (v->in_speech && r.onset &&
               (v->silero || v->unvoiced_run < LOOSE_HOLD_CHUNKS)) {
        /* Silero's probability stays up through consonants and in noise: it holds speech for
         * as long as it stays over the loose threshold, as the package's own segmenter does. */
        v->unvoiced_run += v->unvoiced_run < LOOSE_HOLD_CHUNKS;
    } else {
        v->in_speech = 0;
    }
    if (v->in_speech) {
        v->hang_chunks = STT_VAD_HANGOVER_CHUNKS;
        r.active = 1;
    } else if (v->hang_chunks > 0) {
        v->hang_chunks--;
        r.active = 1;
    } else {
        r.active = 0;
    }
    /* Diagnostics only: the peak score of the current active stretch. */
    v->hang_score = r.active ? (r.score > v->hang_score ? r.score : v->hang_score) : 0.0;
    return r;
}
