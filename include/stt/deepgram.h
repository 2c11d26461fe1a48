/* Deepgram-compatible live streaming codec (`/v1/listen`, issue 15 item 1): the query string of
 * the upgrade request in, the client's control messages in, the server's messages out.
 *
 * The protocol (Deepgram's "listen v1" WebSocket, as the official @deepgram/sdk speaks it;
 * ../shared/specs/peers.md section 2):
 *
 *   client -> server  upgrade  GET /v1/listen?encoding=linear16&sample_rate=16000&channels=1&
 *                              interim_results=true&endpointing=300&utterance_end_ms=1000&...
 *                              Authorization: Token KEY (or Bearer, or subprotocol `token, KEY`)
 *                     binary   audio in the encoding of the query (interleaved when channels > 1)
 *                     text     {"type":"KeepAlive"} | {"type":"Finalize"} | {"type":"CloseStream"}
 *   server -> client  text     Results, UtteranceEnd, SpeechStarted, Metadata (builders below)
 *
 * Bad query parameters are an HTTP 400 before the upgrade, with the body
 * {"err_code":"Bad Request","err_msg":"Invalid 'utterance_end_ms' value of '999'.",
 * "request_id":"..."} (Deepgram's shape; stt_dg_build_http_error).
 *
 * Pure: no sockets, no globals, no state between calls; thread-safe (cJSON's global error
 * pointer aside, see src/proto/vosk.c). Every time in a built message is in stream seconds (the
 * audio the client sent so far on that channel). */
#ifndef STT_PROTO_DEEPGRAM_H
#define STT_PROTO_DEEPGRAM_H

#include <stddef.h>
#include <stdint.h>

#define STT_DG_MAX_QUERY_BYTES 8192   /* a longer query string is refused (400) */
#define STT_DG_MAX_CONTROL_BYTES 4096 /* a longer control message is refused (close 1009) */
#define STT_DG_MIN_RATE_HZ 8000
#define STT_DG_MAX_RATE_HZ 48000
#define STT_DG_DEFAULT_RATE_HZ 16000
#define STT_DG_MAX_CHANNELS 8 /* one stream per channel (the connection's stream cap) */
#define STT_DG_MAX_ENDPOINTING_MS 60000
#define STT_DG_MIN_UTTERANCE_END_MS 1000 /* Deepgram refuses less */
#define STT_DG_MAX_UTTERANCE_END_MS 5000
#define STT_DG_LANGUAGE_MAX 36
#define STT_DG_MODEL_MAX 96
#define STT_DG_PROMPT_MAX 256 /* the keyterms joined: the recognizer prompt's size */
#define STT_DG_MAX_TERMS 200  /* keywords + keyterm occurrences; more is a 400 */
#define STT_DG_TERM_MAX_BYTES 128

typedef enum { STT_DG_LINEAR16 = 0, STT_DG_MULAW, STT_DG_ALAW } stt_dg_encoding_t;

/* endpointing: absent (the server's --post_speech_silence_duration), false, or milliseconds. */
#define STT_DG_ENDPOINTING_DEFAULT (-1)
#define STT_DG_ENDPOINTING_OFF 0

/* The parsed query. Absent parameters hold the defaults named here. */
typedef struct {
    stt_dg_encoding_t encoding; /* linear16 */
    int encoding_given;         /* 0: no `encoding` (raw linear16, or a WAV header: adapter) */
    int sample_rate_hz;         /* 16000; 8000..48000 */
    int sample_rate_given;
    int channels;           /* 1; 1..STT_DG_MAX_CHANNELS */
    int multichannel;       /* 0: channels > 1 are mixed down to one stream */
    int interim_results;    /* 0 */
    int endpointing_ms;     /* STT_DG_ENDPOINTING_DEFAULT, _OFF, or 1..60000 ("true" = 10) */
    int utterance_end_ms;   /* 0 = off; else 1000..5000 (needs interim_results) */
    int vad_events;         /* 0 */
    int punctuate;          /* 0 */
    int smart_format;       /* 0 */
    char language[STT_DG_LANGUAGE_MAX]; /* "" = the server's; [A-Za-z0-9-_] only */
    char model[STT_DG_MODEL_MAX];       /* "" = the loaded model; printable ASCII */
    char prompt[STT_DG_PROMPT_MAX]; /* keyterm and keywords, in order, ", "-joined whole terms
                                     * that fit (keywords' ":boost" suffixes removed) */
    size_t n_terms;                 /* how many were given (all of them, fitted or not) */
    size_t n_ignored;               /* documented parameters accepted and ignored */
    char ignored[128];              /* their names, ", "-joined as far as they fit (logs) */
} stt_dg_params_t;

/* Parses the query string (without '?': "a=1&b=2") of len bytes, need not be NUL-terminated.
 * With `decode`, each name and value is %XX- and '+'-decoded; without, taken as it is (the
 * server's HTTP parser already decoded it). 0 with *out filled, or -1 with *out at its defaults
 * and a one-line Deepgram-style reason in err ("Invalid 'sample_rate' value of 'abc'.").
 * Booleans are "true" or "false" (any case); numbers are plain decimal integers. Every
 * parameter Deepgram documents for live streaming is accepted; the ones this server does not
 * implement (diarize, redact, search, ...) are listed in out->ignored. Unknown names are
 * ignored too (Deepgram adds parameters often). Rules: `encoding` needs `sample_rate`;
 * `utterance_end_ms` needs interim_results=true; encodings other than linear16, mulaw, alaw
 * are refused. A repeated single-valued parameter: the last one counts. */
int stt_dg_parse_query(const char *query, size_t len, int decode, stt_dg_params_t *out,
                       char *err, size_t errlen);

/* The defaults of every parameter. */
void stt_dg_params_init(stt_dg_params_t *p);

typedef enum {
    STT_DG_CTL_KEEPALIVE = 1,
    STT_DG_CTL_FINALIZE,
    STT_DG_CTL_CLOSESTREAM,
} stt_dg_control_kind_t;

typedef struct {
    stt_dg_control_kind_t kind;
    int channel; /* Finalize: the channel index given, or -1 (all channels) */
} stt_dg_control_t;

/* Parses one text message of len bytes. 0, or -1 with a reason in err and *close_code set to
 * the WebSocket close code: 1009 over STT_DG_MAX_CONTROL_BYTES, 1007 not a JSON object or no
 * string "type", 1008 a type that is not one of the three (or a bad Finalize channel). */
int stt_dg_parse_control(const char *buf, size_t len, stt_dg_control_t *out, int *close_code,
                         char *err, size_t errlen);

/* Deepgram's unpunctuated form of engine text (punctuate and smart_format off): the ASCII
 * marks . , ? ! ; : " removed, ASCII letters lower-cased, runs of spaces made one, trimmed.
 * Returns a malloc'd string (free() it); NULL gives "". */
char *stt_dg_plain_text(const char *s);

/* ---- server messages (each builder returns a malloc'd JSON text; free() it; never NULL) ---- */

typedef struct {
    const char *word;  /* borrowed; the engine's word as it is ("Hello," for whisper) */
    double start_s, end_s; /* stream seconds */
    double confidence;     /* 0..1, or negative when unknown (written as the result's) */
} stt_dg_word_t;

typedef struct {
    int channel_index, channels; /* "channel_index": [channel_index, channels] */
    double start_s, duration_s;  /* the audio the result covers, stream seconds */
    int is_final, speech_final, from_finalize;
    const char *transcript;       /* borrowed, UTF-8 (bad bytes become U+FFFD); NULL = "" */
    double confidence;            /* 0..1; negative = unknown (written as 0) */
    const stt_dg_word_t *words;   /* n_words, borrowed */
    size_t n_words;
    const char *request_id;       /* borrowed */
    const char *model_name;       /* borrowed: metadata.model_info.name */
    const char *model_uuid;       /* borrowed */
} stt_dg_results_t;

char *stt_dg_build_results(const stt_dg_results_t *r);

/* {"type":"UtteranceEnd","channel":[channel_index, channels],"last_word_end":s} */
char *stt_dg_build_utterance_end(int channel_index, int channels, double last_word_end_s);

/* {"type":"SpeechStarted","channel":[channel_index, channels],"timestamp":s} */
char *stt_dg_build_speech_started(int channel_index, int channels, double timestamp_s);

typedef struct {
    const char *request_id;  /* borrowed */
    const char *sha256_hex;  /* borrowed: 64 lower-case hex digits of the audio received */
    const char *created;     /* borrowed: "2026-12-05T23:00:00.000Z" */
    double duration_s;       /* audio received, seconds */
    int channels;
    const char *model_name, *model_uuid; /* borrowed */
} stt_dg_metadata_t;

/* {"type":"Metadata","transaction_key":"deprecated","request_id","sha256","created",
 * "duration","channels","models":[uuid],"model_info":{uuid:{"name","version","arch"}}} */
char *stt_dg_build_metadata(const stt_dg_metadata_t *m);

/* The body of an HTTP refusal: {"err_code": code, "err_msg": msg, "request_id": id}. */
char *stt_dg_build_http_error(const char *err_code, const char *err_msg, const char *request_id);

/* The err_code Deepgram uses for an HTTP status: 400 "Bad Request", 401 "INVALID_AUTH",
 * 402 "ASR_PAYMENT_REQUIRED", 404 "Not Found", 429 "TOO_MANY_REQUESTS", 503 and others
 * "Service Unavailable" / "Internal Server Error". */
const char *stt_dg_err_code_for_status(int status);

#endif /* STT_PROTO_DEEPGRAM_H */
