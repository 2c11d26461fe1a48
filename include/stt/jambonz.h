/* jambonz custom speech vendor (STT) codec: control text messages in, result messages out
 * (issue 14, item 4).
 *
 * The protocol (jambonz "custom speech vendor" STT API, spoken by FreeSWITCH's
 * mod_jambonz_transcribe; ../shared/specs/telephony-protocols.md, 4.1), on one WebSocket that
 * jambonz opens with `Authorization: Bearer <api key>`:
 *
 *   jambonz -> server  text    {"type": "start", "language": "en-US", "format": "raw",
 *                               "encoding": "LINEAR16", "interimResults": true,
 *                               "sampleRateHz": 8000, "options": {"hints": [...],
 *                               "hintsBoost": 10, "callSid": "...", ...}}
 *                      binary  PCM signed 16-bit little-endian mono at sampleRateHz
 *                      text    {"type": "stop"}   (jambonz then waits: the server closes)
 *   server -> jambonz  text    {"type": "transcription", "is_final": bool, "alternatives":
 *                               [{"transcript": "...", "confidence": 0.93}],
 *                               "language": "en-US", "channel": 1}
 *                      text    {"type": "error", "error": "<message>"}
 *
 * This module parses the text messages and builds the replies; binary frames never reach it.
 * Pure: no sockets, no globals, no state between calls; thread-safe (cJSON's global error
 * pointer aside, see src/proto/vosk.c). */
#ifndef STT_PROTO_JAMBONZ_H
#define STT_PROTO_JAMBONZ_H

#include <stddef.h>

/* Parse errors: name (for logs and the error message) and the WebSocket close code the adapter
 * closes with after the error message. */
#define STT_JAMBONZ_ERR_MAP(XX)                                                                   \
    XX(OK, "ok", 1000)                                                                            \
    XX(TOOBIG, "message_too_large", 1009)      /* above the byte cap */                          \
    XX(JSON, "not_json", 1007)                 /* empty, not UTF-8, not JSON, trailing data */   \
    XX(NOTOBJ, "not_object", 1007)             /* JSON, but not an object */                     \
    XX(TYPE, "bad_type", 1007)                 /* "type" absent or not a string */               \
    XX(LANGUAGE, "bad_language", 1007)         /* not a short printable ASCII string */          \
    XX(FORMAT, "unsupported_format", 1003)     /* "format" other than "raw" */                   \
    XX(ENCODING, "unsupported_encoding", 1003) /* "encoding" other than "LINEAR16" */            \
    XX(RATE, "bad_sample_rate", 1007)          /* not a whole number in 8000..48000 */           \
    XX(INTERIM, "bad_interim_results", 1007)   /* not a boolean (or 0/1) */                      \
    XX(OPTIONS, "bad_options", 1007)           /* "options" not an object (null is none) */      \
    XX(HINTS, "bad_hints", 1007)               /* too many hints */                              \
    XX(CALLSID, "bad_call_sid", 1007)          /* options.callSid not a short printable string */

typedef enum {
#define STT_JAMBONZ_ERR_ENUM(name, str, code) STT_JAMBONZ_ERR_##name,
    STT_JAMBONZ_ERR_MAP(STT_JAMBONZ_ERR_ENUM)
#undef STT_JAMBONZ_ERR_ENUM
} stt_jambonz_err_t;

#define STT_JAMBONZ_MIN_RATE_HZ 8000
#define STT_JAMBONZ_MAX_RATE_HZ 48000
#define STT_JAMBONZ_DEFAULT_RATE_HZ 8000 /* jambonz's JAMBONZ_STT_SAMPLING default */
#define STT_JAMBONZ_DEFAULT_LANGUAGE "en-US"
/* Cap on one text message: a start with a few hundred hints fits many times over. */
#define STT_JAMBONZ_MAX_MESSAGE_BYTES 65536
#define STT_JAMBONZ_LANGUAGE_MAX 36 /* a BCP-47 tag plus NUL */
#define STT_JAMBONZ_CALL_SID_MAX 129 /* 128 bytes plus NUL (sinks' STT_CALL_ID_MAX) */
#define STT_JAMBONZ_MAX_HINTS 1000
#define STT_JAMBONZ_HINT_MAX_BYTES 256 /* a longer hint is cut (on a character boundary) */

typedef enum {
    STT_JAMBONZ_MSG_NONE = 0, /* a failed parse */
    STT_JAMBONZ_MSG_START,
    STT_JAMBONZ_MSG_STOP,
    STT_JAMBONZ_MSG_OTHER, /* a well-formed message of another type: logged and ignored */
} stt_jambonz_kind_t;

/* A parsed start. Absent keys hold the defaults: language "en-US", 8000 Hz, no interim results,
 * no hints, no call sid (""). */
typedef struct {
    char language[STT_JAMBONZ_LANGUAGE_MAX]; /* as sent (printable ASCII, no quotes) */
    int sample_rate_hz;                      /* 8000..48000 */
    int interim_results;                     /* 0 or 1 */
    char call_sid[STT_JAMBONZ_CALL_SID_MAX]; /* options.callSid, "" when absent */
    const char *const *hints; /* n_hints non-empty UTF-8 phrases; owned by the message */
    size_t n_hints;
    double hints_boost; /* options.hintsBoost, 0 when absent (recorded, not used) */
} stt_jambonz_start_t;

typedef struct {
    stt_jambonz_kind_t kind;
    stt_jambonz_start_t start; /* kind == START only */
    char other_type[32];       /* kind == OTHER: the type, cut, for the log */
    void *mem;                 /* owned: the hints live here; stt_jambonz_msg_dispose() */
} stt_jambonz_msg_t;

/* Parses one complete text message of len bytes (need not be NUL-terminated). max_bytes caps it
 * (0 = STT_JAMBONZ_MAX_MESSAGE_BYTES). On success fills *out (dispose it) and returns OK. On
 * error leaves *out empty (kind NONE, nothing to dispose), writes a one-line reason into err
 * (may be NULL) and returns the code.
 *
 * Liberal where jambonz varies: type, format and encoding compare case-insensitively;
 * sampleRateHz may be an integral float or a decimal string; interimResults may be 0/1; hints
 * may be strings, objects with a "phrase" string ({"phrase": "x", "boost": 5}), or such objects
 * JSON-stringified; entries of another shape, and empty phrases, are skipped; hints that are
 * not an array (jambonz documents "Array or Object") give no hints. Unknown keys are ignored. */
stt_jambonz_err_t stt_jambonz_parse(const char *buf, size_t len, size_t max_bytes,
                                    stt_jambonz_msg_t *out, char *err, size_t errlen);

/* Frees what a parse allocated and empties the message. NULL-safe. */
void stt_jambonz_msg_dispose(stt_jambonz_msg_t *msg);

/* "bad_sample_rate"; "unknown_jambonz_error" out of range. */
const char *stt_jambonz_err_name(stt_jambonz_err_t e);

/* The WebSocket close code of an error (1011 out of range). */
int stt_jambonz_err_close_code(stt_jambonz_err_t e);

/* The hints as a recognizer prompt: "hint1, hint2, ..." in order, as many whole hints as fit
 * in cap - 1 bytes (NUL-terminated). Returns the length written. buf may be NULL when cap is 0. */
size_t stt_jambonz_hints_prompt(const char *const *hints, size_t n, char *buf, size_t cap);

/* One transcription. */
typedef struct {
    int is_final;
    const char *transcript; /* borrowed, UTF-8 (bad bytes become U+FFFD); NULL = "" */
    double confidence;      /* 0..1; negative = unknown: written as 1.0 */
    const char *language;   /* borrowed; NULL = "en-US" */
    int channel;            /* 1 for a mono session */
} stt_jambonz_transcription_t;

/* Builders return a malloc'd NUL-terminated JSON text (free() it); never NULL. */
char *stt_jambonz_build_transcription(const stt_jambonz_transcription_t *t);
/* {"type": "error", "error": message}; NULL means "". */
char *stt_jambonz_build_error(const char *message);

#endif /* STT_PROTO_JAMBONZ_H */
