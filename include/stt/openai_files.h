/* OpenAI file transcription codec (issue 15, item 2): the form fields of
 * `POST /v1/audio/transcriptions` and `/v1/audio/translations` in, the response bodies and
 * errors out. Prefix `stt_oaf_` ("OpenAI audio files"), short for the many builders.
 *
 * The request is multipart/form-data (include/stt/multipart.h splits it); every part but
 * `file` is a small text field that goes through stt_oaf_field() as it completes, then
 * stt_oaf_check() validates the whole set as OpenAI does (a field's own value is checked when
 * it arrives; combinations at the end). Fields:
 *
 *   model                    required ("you must provide a model parameter"); the adapter
 *                            matches it against the loaded model's names (models.h)
 *   language                 ISO-639-1 ("en"); letters and '-' only, at most 15 bytes
 *   prompt                   vocabulary / style hint; the tail of it is kept (whisper keeps the
 *                            last tokens of a long prompt too)
 *   temperature              0..1 (validated; our whisper decodes at 0 without fallback)
 *   response_format          json | text | srt | vtt | verbose_json (default json)
 *   timestamp_granularities[] segment | word, repeatable; needs verbose_json
 *   stream                   true | false; true only with json or text
 *   chunking_strategy, include[], user
 *                            accepted and ignored (no logprobs here)
 *   sample_rate, encoding, channels
 *                            our own, for headerless audio: when `encoding` or `sample_rate` is
 *                            given the file is raw PCM (encoding pcm_s16le (default) |
 *                            pcm_f32le | mulaw | alaw; sample_rate 8000..48000, default
 *                            16000; channels 1..8, default 1, downmixed)
 * Other field names are ignored, as OpenAI ignores unknown form fields.
 *
 * Pure: no sockets, no globals, no state between calls; thread-safe. Strings returned by the
 * builders are malloc'd (the caller frees them); inputs are borrowed for the call. */
#ifndef STT_PROTO_OPENAI_FILES_H
#define STT_PROTO_OPENAI_FILES_H

#include <stddef.h>

/* Caps, so no client-controlled size allocates more. */
#define STT_OAF_FIELD_MAX_BYTES 8192 /* one text field (the adapter stops keeping bytes past it) */
#define STT_OAF_MODEL_MAX 96
#define STT_OAF_LANGUAGE_MAX 16
#define STT_OAF_PROMPT_MAX 1024 /* the last bytes of a longer prompt, on a character boundary */
#define STT_OAF_GRANULARITIES_MAX 8 /* repeats of timestamp_granularities[] */
#define STT_OAF_MIN_RATE_HZ 8000
#define STT_OAF_MAX_RATE_HZ 48000
#define STT_OAF_MAX_CHANNELS 8

typedef enum {
    STT_OAF_JSON = 0,
    STT_OAF_TEXT,
    STT_OAF_SRT,
    STT_OAF_VTT,
    STT_OAF_VERBOSE_JSON
} stt_oaf_format_t;

/* Raw (headerless) audio encodings of our `encoding` field. */
typedef enum {
    STT_OAF_RAW_NONE = 0, /* the file has a header: libsndfile finds the format */
    STT_OAF_RAW_S16LE,
    STT_OAF_RAW_F32LE,
    STT_OAF_RAW_MULAW,
    STT_OAF_RAW_ALAW
} stt_oaf_raw_t;

typedef struct {
    char model[STT_OAF_MODEL_MAX];
    int has_model;
    char language[STT_OAF_LANGUAGE_MAX]; /* "" when not given */
    char prompt[STT_OAF_PROMPT_MAX];     /* "" when not given */
    double temperature;
    stt_oaf_format_t format;
    int has_format;
    int want_segments, want_words; /* timestamp_granularities[] given */
    int n_granularities;
    int stream;
    stt_oaf_raw_t raw;
    int sample_rate_hz; /* raw only; 16000 by default */
    int channels;       /* raw only; 1 by default */
} stt_oaf_request_t;

/* An error as OpenAI words it: HTTP status, message, and the offending parameter (NULL: JSON
 * null). `type` is OpenAI's error type ("invalid_request_error", ...), `code` its code or NULL. */
typedef struct {
    int status;
    char message[256];
    const char *param; /* static strings only */
    const char *type;
    const char *code;
} stt_oaf_error_t;

/* Defaults: json, temperature 0, no stream, not raw. */
void stt_oaf_request_init(stt_oaf_request_t *r);

/* One text field as it completed (`value` is len bytes, not NUL-terminated, at most
 * STT_OAF_FIELD_MAX_BYTES; a longer one is refused). Returns 0, or -1 with *err filled (400). */
int stt_oaf_field(stt_oaf_request_t *r, const char *name, const char *value, size_t len,
                  stt_oaf_error_t *err);

/* The whole form arrived: checks the combinations (model given, granularities need
 * verbose_json, stream only with json/text). Returns 0, or -1 with *err filled. */
int stt_oaf_check(const stt_oaf_request_t *r, stt_oaf_error_t *err);

/* Fills *err (status, message printf-style, param, type invalid_request_error, code). */
void stt_oaf_error_set(stt_oaf_error_t *err, int status, const char *param, const char *code,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* OpenAI's error body {"error": {"message", "type", "param", "code"}}. */
char *stt_oaf_build_error(const stt_oaf_error_t *err);

/* The format's name ("verbose_json") and the Content-Type of its response. */
const char *stt_oaf_format_name(stt_oaf_format_t f);
const char *stt_oaf_format_content_type(stt_oaf_format_t f);

/* ---- results ---- */

typedef struct {
    const char *word; /* borrowed */
    double start_s, end_s;
} stt_oaf_word_t;

typedef struct {
    const char *text; /* borrowed; trimmed */
    double start_s, end_s;
    double avg_logprob; /* log(confidence) when known, else 0 */
    double no_speech_prob; /* the engine's (whisper), else 0 */
} stt_oaf_segment_t;

/* A finished transcription: segments in order, words in order (stream seconds). */
typedef struct {
    const char *task;     /* "transcribe" or "translate" */
    const char *language; /* an ISO code ("en") or "" */
    double duration_s;
    const stt_oaf_segment_t *segments;
    size_t n_segments;
    const stt_oaf_word_t *words;
    size_t n_words;
    int want_segments, want_words; /* verbose_json: which arrays to include */
} stt_oaf_transcript_t;

/* The segments' texts joined with single spaces (malloc'd). */
char *stt_oaf_join_text(const stt_oaf_transcript_t *t);

/* The response body in format f (malloc'd, NUL-terminated; *len its length). json:
 * {"text", "usage": {"type": "duration", "seconds"}}; text: the text and "\n"; srt and vtt: one
 * cue per segment; verbose_json: {task, language (Whisper's English name, "english"), duration,
 * text, segments[] (id, seek, start, end, text, tokens, temperature, avg_logprob,
 * compression_ratio, no_speech_prob), words[] (word, start, end), usage}. */
char *stt_oaf_build_response(const stt_oaf_transcript_t *t, stt_oaf_format_t f, size_t *len);

/* "english" for "en" (Whisper's names); "" when unknown, the input when it is already a name. */
const char *stt_oaf_language_name(const char *code);

/* Server-sent events (stream=true): one `data: {...}\n\n` event each, no `event:` line and no
 * closing `data: [DONE]` (the SDK accepts either; OpenAI's transcription stream ends with
 * transcript.text.done). */
char *stt_oaf_sse_delta(const char *delta, size_t *len);
char *stt_oaf_sse_done(const char *text, size_t *len);
/* An error in the stream after the head went out: `data: {"error": {...}}` (the SDK throws). */
char *stt_oaf_sse_error(const stt_oaf_error_t *err, size_t *len);

/* "00:01:02,345" (srt, sep ',') or "00:01:02.345" (vtt, sep '.'); out holds >= 16 bytes. */
void stt_oaf_timecode(double s, char sep, char *out, size_t cap);

/* The last bytes of `s` that fit in cap-1, starting on a UTF-8 character boundary. */
void stt_oaf_tail_utf8(const char *s, char *out, size_t cap);

#endif /* STT_PROTO_OPENAI_FILES_H */
