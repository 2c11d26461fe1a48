/* Strict base64 (RFC 4648 section 4), shared by the codecs whose audio arrives base64-encoded
 * inside JSON (Twilio-family media payloads, OpenAI Realtime input_audio_buffer.append).
 * The lenient decoder and the encoder of src/base/text.c (stt_base64_decode/_encode, text.h)
 * serve the server's own messages; client audio goes through this strict one, which names the
 * bad byte and never writes past a cap it checked first.
 * Pure functions: no allocation, no state; any thread. */
#ifndef STT_PROTO_BASE64_H
#define STT_PROTO_BASE64_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    STT_BASE64_OK = 0,
    STT_BASE64_BAD,    /* not strict base64: err says which byte or rule */
    STT_BASE64_TOOBIG, /* valid, but decodes to more than cap bytes: nothing was written */
} stt_base64_err_t;

/* The number of bytes len characters of padded base64 decode to (the padding is read from
 * s), or 0 when len is not a multiple of 4. Lets a caller check its cap before allocating. */
size_t stt_base64_strict_len(const char *s, size_t len);

/* Decodes strict base64 (the standard alphabet, padded to a multiple of 4, no whitespace, zero
 * bits after the last byte) into out (at most cap bytes; checked before anything is written)
 * and sets *out_len. `what` names the field in err (e.g. "media.payload: byte '!' at offset 37
 * is not base64"); err may be NULL. */
stt_base64_err_t stt_base64_strict_decode(const char *s, size_t len, uint8_t *out, size_t cap,
                                          size_t *out_len, const char *what, char *err,
                                          size_t errlen);

#endif /* STT_PROTO_BASE64_H */
