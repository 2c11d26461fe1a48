/* Test noise for the VAD tests (test_vad.c, test_silero.c): deterministic xorshift32 white
 * noise, Paul Kellet's pink filter, or a leaky-integral brown noise, scaled to an RMS level. */
#ifndef STT_TEST_NOISE_H
#define STT_TEST_NOISE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

enum { NOISE_WHITE = 0, NOISE_PINK = 1, NOISE_BROWN = 2 };

/* Uniform in [-1, 1) from the xorshift32 state *s. */
static inline double test_urand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (double)*s / 2147483648.0 - 1.0;
}

/* n samples of `kind` noise into out, scaled to `dbfs` RMS (0 dBFS = 32768), drawing from *s. */
static inline void test_noise(double *out, size_t n, int kind, double dbfs, uint32_t *s)
{
    double b[7] = {0}, br = 0, pw = 0;
    for (size_t i = 0; i < n; i++) {
        double u = test_urand(s), y = u;
        if (kind == NOISE_PINK) {
            b[0] = 0.99886 * b[0] + u * 0.0555179;
            b[1] = 0.99332 * b[1] + u * 0.0750759;
            b[2] = 0.96900 * b[2] + u * 0.1538520;
            b[3] = 0.86650 * b[3] + u * 0.3104856;
            b[4] = 0.55000 * b[4] + u * 0.5329522;
            b[5] = -0.7616 * b[5] - u * 0.0168980;
            y = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + u * 0.5362;
            b[6] = u * 0.115926;
        } else if (kind == NOISE_BROWN) {
            br = 0.998 * br + u * 0.05;
            y = br;
        }
        out[i] = y;
        pw += y * y;
    }
    double g = pow(10.0, dbfs / 20.0) * 32768.0 / sqrt(pw / (double)n);
    for (size_t i = 0; i < n; i++)
        out[i] *= g;
}

#endif
