/* Whisper's mel filter bank, computed (include/stt/ct2.h: stt_mel_filters).
 *
 * Whisper's mel_filters.npz is librosa.filters.mel(sr=16000, n_fft=400, n_mels=80 or 128): the
 * Slaney mel scale and Slaney area normalisation, fmin 0, fmax 8000, float32. This follows
 * librosa's arithmetic step by step (numpy's rfftfreq and linspace, the float32 rounding of the
 * triangle weights before the float64 normalisation), so the values are the file's bit for bit;
 * tests/unit/engine/test_ct2.c checks them against an independent numpy computation. Built with
 * -ffp-contract=off (CMakeLists.txt): a fused multiply-add would change the last bit.
 * Any thread; no state. */
#include "stt/ct2.h"

#include <math.h>

#define N_FFT 400
#define N_FREQ (N_FFT / 2 + 1)
#define SR 16000.0

static const double f_sp = 200.0 / 3;
static const double min_log_hz = 1000.0;

static double min_log_mel(void)
{
    return (min_log_hz - 0.0) / f_sp;
}

static double logstep(void)
{
    return log(6.4) / 27.0;
}

static double hz_to_mel(double hz)
{
    if (hz >= min_log_hz)
        return min_log_mel() + log(hz / min_log_hz) / logstep();
    return (hz - 0.0) / f_sp;
}

static double mel_to_hz(double mel)
{
    if (mel >= min_log_mel())
        return min_log_hz * exp(logstep() * (mel - min_log_mel()));
    return 0.0 + f_sp * mel;
}

void stt_mel_filters(int n_mels, float *out)
{
    double fft[N_FREQ], mel_f[130 + 2], fdiff[130 + 1];
    if (n_mels < 1 || n_mels > 130)
        return;
    double val = 1.0 / (N_FFT * (1.0 / SR));
    for (int k = 0; k < N_FREQ; k++)
        fft[k] = k * val;
    int n = n_mels + 2;
    double lo = hz_to_mel(0.0), hi = hz_to_mel(SR / 2);
    double step = (hi - lo) / (n - 1);
    for (int i = 0; i < n; i++)
        mel_f[i] = mel_to_hz(i == n - 1 ? hi : i * step + lo);
    for (int i = 0; i + 1 < n; i++)
        fdiff[i] = mel_f[i + 1] - mel_f[i];
    for (int i = 0; i < n_mels; i++) {
        double enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (int k = 0; k < N_FREQ; k++) {
            double lower = -(mel_f[i] - fft[k]) / fdiff[i];
            double upper = (mel_f[i + 2] - fft[k]) / fdiff[i + 1];
            double m = lower < upper ? lower : upper;
            /* numpy's maximum(0, m) as its SIMD loop computes it (0 > m ? 0 : m): a -0.0
             * stays -0.0, and OpenAI's mel_filters.npz has one. */
            float w = (float)(0.0 > m ? 0.0 : m);
            out[i * N_FREQ + k] = (float)((double)w * enorm);
        }
    }
}
