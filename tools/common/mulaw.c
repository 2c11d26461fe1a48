/* G.711 mu-law encoder; see mulaw.h. Pure, any thread. */
#include "mulaw.h"

#define MULAW_BIAS 0x84
#define MULAW_CLIP 32635

uint8_t stt_tool_mulaw_from_s16(int16_t s)
{
    int x = s;
    uint8_t mask = 0xff; /* codes are stored inverted; the sign bit set means positive */
    if (x < 0) {
        x = -x;
        mask = 0x7f;
    }
    if (x > MULAW_CLIP)
        x = MULAW_CLIP;
    x += MULAW_BIAS;
    /* The segment: the position of the highest set bit above bit 7 (x >= 0x84 always). */
    int seg = 0;
    for (int v = x >> 8; v && seg < 7; v >>= 1)
        seg++;
    int mantissa = (x >> (seg + 3)) & 0x0f;
    return (uint8_t)(((seg << 4) | mantissa) ^ mask);
}

void stt_tool_mulaw_encode(const int16_t *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = stt_tool_mulaw_from_s16(in[i]);
}
