/* Text helpers: the original's transcript post-processing (spec section 5.9) and base64.
 * Pure and thread-safe. */
#ifndef STT_BASE_TEXT_H
#define STT_BASE_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Final text: recorder step (collapse whitespace, strip, uppercase first char, append '.' if the
 * last char is alphanumeric) then server step (lstrip, drop a leading "...", drop the last char
 * if the text ends with "...'." or "...'", lstrip, uppercase first char). Writes a
 * NUL-terminated result into out (truncated to cap-1 bytes on a UTF-8 boundary). */
void stt_text_final(const char *in, char *out, size_t cap);

/* Realtime (preview) text: collapse whitespace, strip, uppercase first char, no period; then the
 * server step. */
void stt_text_realtime(const char *in, char *out, size_t cap);

/* A copy of t without leading and trailing spaces (an engine's text; NULL gives ""), owned by
 * the caller. */
char *stt_text_trimmed(const char *t);

/* Base64 (RFC 4648, with padding). Returns the encoded length; out needs
 * stt_base64_encoded_len(n) + 1 bytes and is NUL-terminated. */
size_t stt_base64_encoded_len(size_t n);
size_t stt_base64_encode(const uint8_t *in, size_t n, char *out);

/* Decodes; returns decoded length or -1 on invalid input. out needs n*3/4+3 bytes. */
long stt_base64_decode(const char *in, size_t n, uint8_t *out);

#endif /* STT_BASE_TEXT_H */
