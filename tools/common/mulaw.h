/* G.711 mu-law encoder for the tools that play a caller (the Twilio client codec): 16-bit
 * linear PCM to mu-law bytes, the inverse of stt_g711_mulaw_decode() (include/stt/g711.h) for
 * every value that decoder yields. The server only decodes; this lives with the tools.
 *
 * Pure functions, any thread. */
#ifndef STT_TOOLS_MULAW_H
#define STT_TOOLS_MULAW_H

#include <stddef.h>
#include <stdint.h>

/* The mu-law code of one sample (ITU-T G.711, bias 132, clipped at 32635; rounds toward
 * zero within a step, as the reference encoder does). */
uint8_t stt_tool_mulaw_from_s16(int16_t s);

/* Encodes n samples from in to n codes in out. */
void stt_tool_mulaw_encode(const int16_t *in, size_t n, uint8_t *out);

#endif
