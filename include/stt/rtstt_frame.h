/* RealtimeSTT data-socket frame (spec section 3.1): bytes in -> validated frame out.
 *
 *   uint32 LE  L = metadata length
 *   L bytes    UTF-8 JSON object with integer "sampleRate" (required)
 *   rest       PCM signed 16-bit little-endian mono
 *
 * Pure: no sockets, no allocation beyond cJSON's parse of the metadata (freed before return).
 * Every malformed frame gets its own error code, a specific message and a WebSocket close code
 * (documented in docs/protocol.md). Thread-safe. */
#ifndef STT_PROTO_RTSTT_FRAME_H
#define STT_PROTO_RTSTT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define STT_FRAME_ERR_MAP(XX)                                                                      \
    XX(OK, "ok", 1000)                                                                             \
    XX(SHORT, "frame_too_short", 1007)        /* fewer than 4 bytes */                            \
    XX(METALEN, "bad_metadata_length", 1007)  /* L runs past the end of the frame */              \
    XX(METABIG, "metadata_too_large", 1009)   /* L above the metadata cap */                      \
    XX(JSON, "metadata_not_json", 1007)       /* not UTF-8 JSON */                                \
    XX(NOTOBJ, "metadata_not_object", 1007)   /* JSON but not an object */                        \
    XX(NORATE, "missing_sample_rate", 1007)   /* no sampleRate key */                             \
    XX(RATETYPE, "bad_sample_rate", 1007)     /* sampleRate not an integer */                     \
    XX(RATERANGE, "unsupported_sample_rate", 1007) /* outside 8000..48000 */                     \
    XX(CHANNELS, "unsupported_channels", 1007)     /* channels present and != 1 */               \
    XX(ODD, "odd_pcm_length", 1007)           /* PCM byte count not a multiple of 2 */            \
    XX(TOOBIG, "frame_too_large", 1009)       /* whole frame above the frame cap */

typedef enum {
#define STT_FRAME_ERR_ENUM(name, str, code) STT_FRAME_##name,
    STT_FRAME_ERR_MAP(STT_FRAME_ERR_ENUM)
#undef STT_FRAME_ERR_ENUM
} stt_frame_err_t;

#define STT_FRAME_MIN_RATE_HZ 8000
#define STT_FRAME_MAX_RATE_HZ 48000
#define STT_FRAME_MAX_METADATA_BYTES 65536

typedef struct {
    size_t max_frame_bytes; /* whole message cap (default 1 MiB) */
    size_t max_metadata_bytes;
} stt_frame_limits_t;

typedef struct {
    int sample_rate_hz;
    const uint8_t *pcm; /* borrowed: points into the input buffer; may be unaligned */
    size_t n_samples;
    int64_t server_sent_to_stt_ns; /* 0 if absent */
} stt_rtstt_frame_t;

/* Parses one complete binary WebSocket message. On error fills `err` with a specific one-line
 * message (e.g. "metadata length 900 exceeds frame size 120") and returns the code. */
stt_frame_err_t stt_rtstt_frame_parse(const uint8_t *buf, size_t len,
                                      const stt_frame_limits_t *limits, stt_rtstt_frame_t *out,
                                      char *err, size_t errlen);

/* Short snake_case name of an error ("bad_metadata_length"). */
const char *stt_frame_err_name(stt_frame_err_t e);

/* WebSocket close code for an error (1007 invalid payload, 1009 too big). */
int stt_frame_err_close_code(stt_frame_err_t e);

/* Builds a frame for clients and tests: returns bytes written into out (capacity cap), or 0 if it
 * does not fit. `extra_json` is appended inside the metadata object (may be NULL). */
size_t stt_rtstt_frame_build(uint8_t *out, size_t cap, int sample_rate_hz, const int16_t *pcm,
                             size_t n_samples, const char *extra_json);

#endif /* STT_PROTO_RTSTT_FRAME_H */
