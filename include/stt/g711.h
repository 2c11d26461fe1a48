/* G.711 decoders (ITU-T G.711): mu-law and A-law bytes to 16-bit linear PCM, table-driven.
 * Any thread (the tables are built once, thread-safely). */
#ifndef STT_G711_H
#define STT_G711_H

#include <stddef.h>
#include <stdint.h>

/* The linear value of one code. */
int16_t stt_g711_mulaw_to_s16(uint8_t code);
int16_t stt_g711_alaw_to_s16(uint8_t code);

/* Decodes n codes from in to out (n samples). */
void stt_g711_mulaw_decode(const uint8_t *in, size_t n, int16_t *out);
void stt_g711_alaw_decode(const uint8_t *in, size_t n, int16_t *out);

#endif /* STT_G711_H */
