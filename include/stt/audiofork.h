/* "Metadata then raw PCM" WebSocket codec: FreeSWITCH mod_audio_fork (drachtio, jambonz),
 * mod_audio_stream, and jambonz's `listen` verb (issue 14, item 6).
 *
 * The protocols (../shared/specs/telephony-protocols.md, 3.1, 3.2, 4.2): the client opens a
 * WebSocket (mod_audio_fork offers the subprotocol audio.drachtio.org, jambonz
 * audio.jambonz.org), optionally sends ONE text frame of metadata first, then binary frames of
 * PCM signed 16-bit little-endian, mono or two interleaved channels (stereo: caller, callee),
 * at 8000 Hz or another multiple of 8000. The metadata is
 *   - jambonz listen: a JSON object with the call's attributes, e.g. {"callSid": "...", "from",
 *     "to", "direction", ..., "sampleRate": 8000, "mixType": "mono"|"mixed"|"stereo",
 *     "metadata": {...the application's own...}};
 *   - mod_audio_fork: the `metadata` argument of uuid_audio_fork, verbatim (any string);
 *   - mod_audio_stream: optional; when absent the first frame is already audio.
 * Later text frames (send_text: DTMF and the like; the text of `stop`) carry no audio.
 *
 * This module parses the metadata header and the URL arguments a client may add
 * (?rate=16k&mix=stereo&transcribe=1), and builds the optional in-band `transcription` event
 * that mod_audio_fork turns into a `mod_audio_fork::transcription` event. Pure: no sockets, no
 * globals; thread-safe. */
#ifndef STT_PROTO_AUDIOFORK_H
#define STT_PROTO_AUDIOFORK_H

#include <stddef.h>

#define STT_AF_ERR_MAP(XX)                                                                        \
    XX(OK, "ok", 1000)                                                                            \
    XX(TOOBIG, "metadata_too_large", 1009)  /* above the byte cap */                             \
    XX(RATE, "unsupported_sample_rate", 1007) /* not a multiple of 8000 in 8000..64000 */        \
    XX(MIX, "bad_mix_type", 1007)           /* mixType not mono, mixed or stereo */              \
    XX(CHANNELS, "bad_channels", 1007)      /* channels not 1 or 2, or against mixType */        \
    XX(CALLID, "bad_call_id", 1007)         /* callSid not a short printable string */

typedef enum {
#define STT_AF_ERR_ENUM(name, str, code) STT_AF_ERR_##name,
    STT_AF_ERR_MAP(STT_AF_ERR_ENUM)
#undef STT_AF_ERR_ENUM
} stt_af_err_t;

#define STT_AF_MIN_RATE_HZ 8000
#define STT_AF_MAX_RATE_HZ 64000 /* jambonz's largest; rates are multiples of 8000 */
#define STT_AF_DEFAULT_RATE_HZ 8000
#define STT_AF_MAX_HEADER_BYTES 65536
#define STT_AF_CALL_ID_MAX 129 /* 128 bytes plus NUL (sinks' STT_CALL_ID_MAX) */

typedef enum {
    STT_AF_MIX_UNSET = 0,
    STT_AF_MIX_MONO,   /* the caller only, 1 channel */
    STT_AF_MIX_MIXED,  /* both parties summed, 1 channel */
    STT_AF_MIX_STEREO, /* 2 interleaved channels: caller, callee */
} stt_af_mix_t;

/* What a header (or the URL) says; unset fields stay 0 / UNSET / -1 / "". */
typedef struct {
    int is_json;            /* 1: a JSON object; 0: an opaque string (kept whole for the log) */
    int rate_hz;            /* sampleRate, 0 = not given */
    stt_af_mix_t mix;       /* mixType */
    int channels;           /* channels (1, 2), 0 = not given; stereo implies 2 */
    char call_id[STT_AF_CALL_ID_MAX]; /* callSid, call_sid, callId, uuid or streamSid */
    int transcribe;         /* "transcribe" (top level or inside "metadata"): -1 not given */
    int interim;            /* "interim": -1 not given */
} stt_af_header_t;

/* Parses the first text frame of len bytes (need not be NUL-terminated; the WebSocket layer
 * has checked it is UTF-8). A JSON object is read for the keys above (numbers may be strings:
 * "8000", "16k"; unknown keys ignored); anything else (an opaque metadata string, JSON that is
 * not an object) is accepted as opaque with nothing set. max_bytes 0 = STT_AF_MAX_HEADER_BYTES.
 * Returns OK and fills *out, or an error with a one-line reason in err (may be NULL); *out is
 * then all unset. */
stt_af_err_t stt_af_parse_header(const char *buf, size_t len, size_t max_bytes,
                                 stt_af_header_t *out, char *err, size_t errlen);

/* Empties a header: every field unset. */
void stt_af_header_init(stt_af_header_t *h);

/* A rate as clients write it: "8000", "16000", "8k", "16K", "24k" ... Returns the rate in Hz
 * when it is a multiple of 8000 in 8000..64000, else -1. */
int stt_af_parse_rate(const char *s);

/* "mono", "mixed", "stereo" (any case), else UNSET. */
stt_af_mix_t stt_af_parse_mix(const char *s);

/* Channels on the wire for a mix (stereo 2, else 1). */
int stt_af_mix_channels(stt_af_mix_t mix);

const char *stt_af_err_name(stt_af_err_t e);  /* "unknown_audiofork_error" out of range */
int stt_af_err_close_code(stt_af_err_t e);    /* 1011 out of range */

/* One in-band transcription event:
 * {"type": "transcription", "data": {"is_final": bool, "alternatives": [{"transcript",
 *  "confidence"}], "channel": n, "language": "...", "callSid": "..."}} (callSid only when
 * known). Returns a malloc'd JSON text (free() it); never NULL. */
typedef struct {
    int is_final;
    const char *transcript; /* borrowed; bad UTF-8 becomes U+FFFD; NULL = "" */
    double confidence;      /* negative = unknown: written as 1 */
    int channel;            /* 1-based */
    const char *language;   /* NULL = "en" */
    const char *call_id;    /* NULL or "" = left out */
} stt_af_transcription_t;

char *stt_af_build_transcription(const stt_af_transcription_t *t);

#endif /* STT_PROTO_AUDIOFORK_H */
