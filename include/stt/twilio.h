/* Twilio-family media stream codec: one text message of any dialect in, a struct out, and back.
 *
 * The platforms that fork a call's audio to a WebSocket server as JSON text messages
 * (docs/protocol.md, "Twilio-family media streams"; the spec's sections 1 and 5):
 *
 *   dialect     ids                                counters        audio
 *   Twilio      streamSid, start.callSid/accountSid  strings       base64 mu-law 8 kHz
 *   SignalWire  as Twilio                           strings        mu-law 8 kHz, L16 16/24 kHz
 *   Telnyx      stream_id, start.call_control_id    strings        PCMU, PCMA, L16 (big-endian)
 *   Plivo       streamId, start.callId/accountId    numbers        L16 8/16 kHz, mu-law 8 kHz
 *   Exotel      stream_sid, start.call_sid          strings        audio/x-raw (L16) 8 kHz
 *   Vonage      headers in websocket:connected      none           binary L16 (not this codec)
 *
 * Messages: connected, start (ids, tracks, custom parameters, media format), media (track,
 * chunk, timestamp, base64 payload), dtmf, mark, stop, error (Telnyx), and for Vonage
 * websocket:connected (parsed as a START: its content-type is the format, its other top-level
 * members the headers, as parameters) and websocket:dtmf. Any other event is UNKNOWN, not an
 * error. Counters may be JSON numbers or strings of decimal digits.
 *
 * The dialect is told from the member names a message uses (stt_tw_parse's comment lists
 * them). SignalWire cannot be told from Twilio and is parsed as Twilio.
 *
 * Pure: no sockets, no globals, no allocation (the message struct holds every string; the
 * media payload is decoded into a buffer the caller gives). Any thread. */
#ifndef STT_PROTO_TWILIO_H
#define STT_PROTO_TWILIO_H

#include <stddef.h>
#include <stdint.h>

/* Errors: name (stt_protocol_errors_total's label, the close reason's prefix) and the
 * WebSocket close code the server answers with (0: tolerated, counted, the call goes on).
 * The codec returns the first group; the adapter detects the rest. */
#define STT_TW_ERR_MAP(XX)                                                                         \
    XX(OK, "ok", 1000)                                                                             \
    XX(TOOBIG, "message_too_large", 1009)      /* above the message cap */                        \
    XX(JSON, "not_json", 1007)                 /* empty, not UTF-8, not JSON, trailing data */    \
    XX(NOTOBJ, "not_object", 1007)             /* JSON, but not an object */                      \
    XX(EVENT, "bad_event", 1007)               /* "event" missing or not a string */              \
    XX(FIELD, "bad_field", 1007)               /* a member of the wrong JSON type */              \
    XX(COUNTER, "bad_counter", 1007)           /* not a whole number >= 0 (number or digits) */   \
    XX(ID, "bad_id", 1007)                     /* empty, not printable ASCII, too long */         \
    XX(TRACK, "bad_track", 1007)               /* not inbound/outbound(_track) */                 \
    XX(CODEC, "unsupported_codec", 1007)       /* encoding not mu-law, A-law or L16 */            \
    XX(RATE, "unsupported_sample_rate", 1007)  /* not a whole number in 8000..48000 */            \
    XX(CHANNELS, "unsupported_channels", 1007) /* not 1 */                                        \
    XX(BASE64, "bad_base64", 1007)             /* payload not strict base64 */                    \
    XX(PAYLOAD_TOOBIG, "payload_too_large", 1009) /* decodes to more than the caller's cap */     \
    XX(NO_PAYLOAD, "missing_payload", 1007)    /* media without media.payload */                  \
    XX(DTMF, "bad_dtmf", 1007)                 /* digit missing, empty or over 7 bytes */         \
    /* the adapter's: the order of a call's messages */                                         \
    XX(NO_START, "media_before_start", 1008)   /* media before start */                           \
    XX(START_TWICE, "start_twice", 1008)       /* a second start */                               \
    XX(NO_CALL_ID, "no_call_id", 1008)         /* no usable call id in start */                   \
    XX(BINARY, "unexpected_binary", 1003)      /* binary outside a Vonage stream */               \
    XX(PARTIAL_SAMPLE, "partial_sample", 1007) /* L16 payload of an odd byte count */             \
    /* tolerated: counted, the call goes on */                                                  \
    XX(EMPTY_PAYLOAD, "empty_payload", 0)      /* media whose payload is "" */                    \
    XX(PARAM_DROPPED, "parameter_dropped", 0)  /* a custom parameter over the caps, or not a     \
                                                * string/number/boolean */                        \
    XX(CHUNK_LATE, "chunk_late", 0)            /* arrived after the reorder window passed it */   \
    XX(CHUNK_DUPLICATE, "chunk_duplicate", 0)  /* a chunk number seen before */                   \
    XX(CHUNK_MISSING, "chunk_missing", 0)      /* never arrived: silence or skipped */

typedef enum {
#define STT_TW_ERR_ENUM(name, str, code) STT_TW_ERR_##name,
    STT_TW_ERR_MAP(STT_TW_ERR_ENUM)
#undef STT_TW_ERR_ENUM
        STT_TW_ERR_COUNT
} stt_tw_err_t;

/* "bad_base64"; "unknown_twilio_error" out of range. */
const char *stt_tw_err_name(stt_tw_err_t e);
/* The WebSocket close code (0: tolerated; 1011 out of range). */
int stt_tw_err_close_code(stt_tw_err_t e);

typedef enum {
    STT_TW_EV_NONE = 0, /* a failed parse */
    STT_TW_EV_CONNECTED,
    STT_TW_EV_START, /* also Vonage websocket:connected */
    STT_TW_EV_MEDIA,
    STT_TW_EV_DTMF, /* also Vonage websocket:dtmf */
    STT_TW_EV_MARK,
    STT_TW_EV_STOP,
    STT_TW_EV_ERROR, /* Telnyx: the platform reports an error */
    STT_TW_EV_UNKNOWN /* any other event (Plivo playedStream, Vonage websocket:notify, ...) */
} stt_tw_event_t;

typedef enum {
    STT_TW_DIALECT_NONE = 0, /* the message named nothing that tells (connected, mark, ...) */
    STT_TW_DIALECT_TWILIO,   /* and SignalWire */
    STT_TW_DIALECT_TELNYX,
    STT_TW_DIALECT_PLIVO,
    STT_TW_DIALECT_EXOTEL,
    STT_TW_DIALECT_VONAGE
} stt_tw_dialect_t;

/* "twilio", "telnyx", "plivo", "exotel", "vonage"; "unknown" for NONE. */
const char *stt_tw_dialect_name(stt_tw_dialect_t d);

typedef enum {
    STT_TW_ENC_NONE = 0,
    STT_TW_ENC_MULAW, /* audio/x-mulaw, PCMU: 1 byte per sample */
    STT_TW_ENC_ALAW,  /* audio/x-alaw, PCMA */
    STT_TW_ENC_L16LE, /* audio/x-l16 (Plivo, SignalWire), audio/x-raw (Exotel), Vonage */
    STT_TW_ENC_L16BE  /* L16 in the Telnyx dialect: RTP payload, network byte order */
} stt_tw_encoding_t;

/* 1 or 2 bytes per sample (0 for NONE). */
size_t stt_tw_sample_bytes(stt_tw_encoding_t e);

typedef enum { STT_TW_TRACK_NONE = 0, STT_TW_TRACK_INBOUND, STT_TW_TRACK_OUTBOUND } stt_tw_track_t;

/* "inbound", "outbound", "" for NONE. */
const char *stt_tw_track_name(stt_tw_track_t t);

typedef struct {
    stt_tw_encoding_t encoding;
    int rate_hz;  /* 8000..48000; 8000 when the message names none */
    int channels; /* always 1 (others are refused) */
} stt_tw_format_t;

/* Caps. Ids: a Twilio SID is 34 bytes, a UUID 36, a Telnyx call_control_id about 80. */
#define STT_TW_ID_MAX 128
#define STT_TW_MAX_PARAMS 32
#define STT_TW_PARAM_NAME_MAX 128
#define STT_TW_PARAM_VALUE_MAX 2048
#define STT_TW_PARAM_TEXT_MAX 8192 /* every name and value with its NUL, together */
#define STT_TW_EXTRA_HEADERS_MAX 512 /* Plivo's own limit */
#define STT_TW_NAME_MAX 63 /* event names of UNKNOWN, mark names, Telnyx error titles */
#define STT_TW_MIN_RATE_HZ 8000
#define STT_TW_MAX_RATE_HZ 48000
/* Default cap on one text message: a second of 48 kHz L16 base64-encoded fits. */
#define STT_TW_MAX_MESSAGE_BYTES 262144

/* Bits of stt_tw_msg_t.present: which optional members the message had. */
#define STT_TW_HAS_SEQUENCE (1u << 0)
#define STT_TW_HAS_CHUNK (1u << 1)
#define STT_TW_HAS_TIMESTAMP (1u << 2)
#define STT_TW_HAS_FORMAT (1u << 3)
#define STT_TW_HAS_TRACKS (1u << 4)
#define STT_TW_HAS_PARAMS (1u << 5)
#define STT_TW_HAS_EXTRA_HEADERS (1u << 6)
#define STT_TW_HAS_PAYLOAD (1u << 7)
#define STT_TW_HAS_DURATION (1u << 8)
#define STT_TW_HAS_MARK (1u << 9)
#define STT_TW_HAS_ERROR_CODE (1u << 10)

typedef struct {
    const char *name, *value; /* NUL-terminated UTF-8, in the message's own storage */
} stt_tw_param_t;

/* A parsed message. It holds its strings itself (params point into `text`): do not copy it
 * by value while its params are used; the payload points into the caller's buffer. */
typedef struct {
    stt_tw_event_t event;
    stt_tw_dialect_t dialect;
    unsigned present;                  /* STT_TW_HAS_* */
    char event_name[STT_TW_NAME_MAX + 1]; /* as sent, printable ASCII ('?' for others), cut */
    uint64_t sequence;                 /* sequenceNumber / sequence_number */
    char stream_id[STT_TW_ID_MAX + 1]; /* "" when absent */
    /* start and stop */
    char call_id[STT_TW_ID_MAX + 1];    /* callSid, call_control_id, callId, call_sid */
    char account_id[STT_TW_ID_MAX + 1]; /* accountSid, user_id, accountId, account_sid */
    /* start */
    unsigned tracks;                    /* bit 1 << STT_TW_TRACK_INBOUND, ... */
    stt_tw_format_t format;             /* the default (mu-law 8 kHz) when absent */
    stt_tw_param_t params[STT_TW_MAX_PARAMS]; /* customParameters (Vonage: its headers) */
    size_t n_params;
    size_t params_dropped; /* over the caps or of another JSON type: PARAM_DROPPED each */
    char extra_headers[STT_TW_EXTRA_HEADERS_MAX + 1]; /* Plivo, as sent (stt_tw_split_headers) */
    /* media (dtmf: track) */
    stt_tw_track_t track;
    uint64_t chunk, timestamp_ms;
    const uint8_t *payload; /* decoded, in the caller's buffer; NULL when absent */
    size_t payload_len;
    /* dtmf */
    char digit[8];
    uint64_t duration_ms;
    /* mark */
    char mark[STT_TW_NAME_MAX + 1];
    /* error (Telnyx): payload.code, payload.title, payload.detail (printable ASCII, cut) */
    uint64_t error_code;
    char error_title[STT_TW_NAME_MAX + 1];
    char error_detail[2 * STT_TW_NAME_MAX + 2];
    /* storage */
    char text[STT_TW_PARAM_TEXT_MAX];
    size_t text_used;
} stt_tw_msg_t;

/* Parses one complete text message of len bytes (need not be NUL-terminated); max_bytes caps
 * it (0: STT_TW_MAX_MESSAGE_BYTES). A media payload is decoded into payload_buf (at most
 * payload_cap bytes; NULL/0: a media message is then PAYLOAD_TOOBIG unless its payload is
 * empty). Returns STT_TW_ERR_OK with *out filled, or an error with *out's event NONE and a
 * one-line message in err (e.g. `media.payload: byte '!' at offset 37 is not base64`).
 *
 * Dialect, from the first group that matches (members of `start` only in a start, of `stop`
 * only in a stop):
 *   VONAGE  event "websocket:..."
 *   EXOTEL  stream_sid, start.stream_sid/call_sid/account_sid, stop.call_sid/account_sid
 *   TELNYX  stream_id, sequence_number, start.call_control_id/user_id/custom_parameters/
 *           media_format, stop.call_control_id/user_id
 *   PLIVO   streamId, extra_headers, start.streamId/callId/accountId
 *   TWILIO  streamSid, sequenceNumber, start.streamSid/callSid/accountSid/customParameters/
 *           mediaFormat, stop.callSid/accountSid
 * A member whose value is null counts as absent. Members are read under any dialect's name;
 * where several are present the first of the order above's reverse (Twilio's) wins. */
stt_tw_err_t stt_tw_parse(const char *buf, size_t len, size_t max_bytes, uint8_t *payload_buf,
                          size_t payload_cap, stt_tw_msg_t *out, char *err, size_t errlen);

/* Builds the message as dialect d would send it (malloc'd NUL-terminated JSON, caller frees;
 * never NULL; allocation failure aborts): only the members `present` and the non-empty ids,
 * under d's names. Counters are strings for Twilio, Telnyx and Exotel, numbers for Plivo. A
 * Vonage MEDIA has no JSON form (binary audio): NULL. stt_tw_parse of the result gives the
 * same message back (the fuzz driver checks it), provided d is the message's own dialect. */
char *stt_tw_build(const stt_tw_msg_t *m, stt_tw_dialect_t d);

/* Strict base64 (RFC 4648 section 4: the standard alphabet, padded to a multiple of 4, no
 * whitespace, zero bits after the last byte). Decodes into out (at most cap bytes) and sets
 * *out_len. Returns OK, BASE64 (err says which byte) or PAYLOAD_TOOBIG. `what` names the field
 * in err. */
stt_tw_err_t stt_tw_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap,
                                  size_t *out_len, const char *what, char *err, size_t errlen);

/* Encodes n bytes into out (4 * ceil(n / 3) + 1 bytes with the NUL); returns the length. */
size_t stt_tw_base64_encode(const uint8_t *in, size_t n, char *out);

/* Plivo's extra_headers ("k1=v1;k2=v2" or "k1=v1,k2=v2") into params of m after its own
 * (names and values in m's storage, the caps apply: over them PARAM_DROPPED is counted in
 * m->params_dropped). An item without '=' is a name with an empty value. */
void stt_tw_split_headers(stt_tw_msg_t *m);

/* The value of the first parameter named `name`, or NULL. */
const char *stt_tw_param(const stt_tw_msg_t *m, const char *name);

#endif /* STT_PROTO_TWILIO_H */
