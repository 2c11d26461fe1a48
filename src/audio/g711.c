/* G.711 decoders (g711.h). The 256-entry tables are computed once from the standard's segment
 * formulas: a code is a sign bit, a 3-bit segment (exponent) and a 4-bit step (mantissa); mu-law
 * codes are sent inverted, A-law codes with the even bits inverted (XOR 0x55). */
#include "stt/g711.h"

#include <pthread.h>

static int16_t mulaw_table[256], alaw_table[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static int16_t mulaw_formula(uint8_t code)
{
    unsigned u = (unsigned)(~code) & 0xffu;
    int exponent = (int)((u >> 4) & 7), mantissa = (int)(u & 0x0f);
    int magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84; /* bias 132 */
    return (int16_t)((u & 0x80) ? -magnitude : magnitude);
}

static int16_t alaw_formula(uint8_t code)
{
    unsigned a = (unsigned)code ^ 0x55u;
    int exponent = (int)((a >> 4) & 7), mantissa = (int)(a & 0x0f);
    int magnitude = exponent == 0 ? (mantissa << 4) + 8
                                  : ((mantissa << 4) + 0x108) << (exponent - 1);
    return (int16_t)((a & 0x80) ? magnitude : -magnitude); /* A-law: sign bit set = positive */
}

static void build_tables(void)
{
    for (int i = 0; i < 256; i++) {
        mulaw_table[i] = mulaw_formula((uint8_t)i);
        alaw_table[i] = alaw_formula((uint8_t)i);
    }
}

int16_t stt_g711_mulaw_to_s16(uint8_t code)
{
    pthread_once(&tables_once, build_tables);
    return mulaw_table[code];
}

int16_t stt_g711_alaw_to_s16(uint8_t code)
{
    pthread_once(&tables_once, build_tables);
    return alaw_table[code];
}

void stt_g711_mulaw_decode(const uint8_t *in, size_t n, int16_t *out)
{
    pthread_once(&tables_once, build_tables);
    for (size_t i = 0; i < n; i++)
        out[i] = mulaw_table[in[i]];
}

void stt_g711_alaw_decode(const uint8_t *in, size_t n, int16_t *out)
{
    pthread_once(&tables_once, build_tables);
    for (size_t i = 0; i < n; i++)
        out[i] = alaw_table[in[i]];
}
