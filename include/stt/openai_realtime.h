/* OpenAI Realtime transcription-session codec (issue 15, item 3): the client events of a
 * `/v1/realtime?intent=transcription` WebSocket in, the server events out.
 *
 * The protocol is the beta Realtime API the official `openai` SDKs speak (JS 4.104.0
 * `openai/beta/realtime/ws`, header `OpenAI-Beta: realtime=v1`), restricted to transcription
 * sessions. Every message is one JSON object with a "type" and an optional client "event_id":
 *
 *   client -> server  transcription_session.update {session: {input_audio_format,
 *                         input_audio_transcription {model, language, prompt}, turn_detection
 *                         (null | {type: "server_vad", threshold, prefix_padding_ms,
 *                         silence_duration_ms}), input_audio_noise_reduction, include}}
 *                     input_audio_buffer.append {audio: base64}
 *                     input_audio_buffer.commit, input_audio_buffer.clear
 *   server -> client  transcription_session.created / .updated {session}
 *                     input_audio_buffer.speech_started {audio_start_ms, item_id}
 *                     input_audio_buffer.speech_stopped {audio_end_ms, item_id}
 *                     input_audio_buffer.committed {previous_item_id, item_id}
 *                     input_audio_buffer.cleared
 *                     conversation.item.created {previous_item_id, item}
 *                     conversation.item.input_audio_transcription.delta {item_id,
 *                         content_index, delta} / .completed {..., transcript} / .failed
 *                     error {error: {type, code, message, param, event_id}}
 *
 * A bad event never ends the session: it is answered with an `error` event
 * (type invalid_request_error) whose code, message and param follow what OpenAI sends
 * (invalid_value, unknown_parameter, missing_required_parameter, invalid_type, invalid_json,
 * unsupported_event), with the offending event's event_id.
 *
 * semantic_vad is refused (invalid_value on session.turn_detection.type): this server has no
 * semantic turn model, and silently running server_vad instead would change a client's turn
 * timing without telling it.
 *
 * Pure: no sockets, no globals, no state between calls; thread-safe (cJSON's global error
 * pointer aside, see src/proto/vosk.c). */
#ifndef STT_PROTO_OPENAI_REALTIME_H
#define STT_PROTO_OPENAI_REALTIME_H

#include <stddef.h>
#include <stdint.h>

/* Cap on one client event's JSON text when the caller gives none: 15 MiB of audio (OpenAI's
 * limit per append) in base64, plus room for the envelope. */
#define STT_OAIRT_MAX_MESSAGE_BYTES (20u * 1024u * 1024u + 1024u)
#define STT_OAIRT_EVENT_ID_MAX 65  /* a client event_id: 64 bytes plus NUL */
#define STT_OAIRT_ITEM_ID_MAX 40   /* "item_" + digits, plus NUL */
#define STT_OAIRT_MODEL_MAX 96     /* models.h STT_MODEL_NAME_MAX */
#define STT_OAIRT_LANGUAGE_MAX 16  /* ISO-639-1 ("en") or a short tag */
#define STT_OAIRT_PROMPT_MAX 1025  /* 1024 bytes plus NUL */
#define STT_OAIRT_MAX_PADDING_MS 10000
#define STT_OAIRT_MAX_SILENCE_MS 10000

typedef enum {
    STT_OAIRT_PCM16 = 0, /* 16-bit PCM, 24 kHz, mono, little-endian */
    STT_OAIRT_G711_ULAW, /* 8 kHz */
    STT_OAIRT_G711_ALAW, /* 8 kHz */
} stt_oairt_format_t;

/* "pcm16", "g711_ulaw", "g711_alaw". */
const char *stt_oairt_format_name(stt_oairt_format_t f);
/* 24000 or 8000. */
int stt_oairt_format_rate_hz(stt_oairt_format_t f);
/* 2 or 1. */
int stt_oairt_format_sample_bytes(stt_oairt_format_t f);

/* The transcription session as the server holds it and reports it (session object). */
typedef struct {
    char id[40];                     /* "sess_..." (the adapter's) */
    stt_oairt_format_t format;       /* pcm16 */
    char model[STT_OAIRT_MODEL_MAX]; /* "" until a client names one: reported as the default */
    char language[STT_OAIRT_LANGUAGE_MAX]; /* "" = detect / the server's --language */
    char prompt[STT_OAIRT_PROMPT_MAX];
    int turn_detection;              /* 1 server_vad, 0 null (manual commits) */
    double threshold;                /* 0..1, default 0.5 */
    int prefix_padding_ms;           /* default 300 */
    int silence_duration_ms;         /* default 500 */
    char noise_reduction[16];        /* "", "near_field", "far_field" ("" = null) */
    int include_logprobs;            /* include has item.input_audio_transcription.logprobs */
} stt_oairt_session_t;

/* The defaults of a new session (OpenAI's): pcm16, server_vad 0.5/300/500, no noise
 * reduction, model "" (the caller fills in its default). */
void stt_oairt_session_defaults(stt_oairt_session_t *s);

/* A transcription_session.update: each has_* says the member was present. */
typedef struct {
    int has_format;
    stt_oairt_format_t format;
    int has_transcription; /* input_audio_transcription present (null resets it) */
    int has_model, has_language, has_prompt;
    char model[STT_OAIRT_MODEL_MAX];
    char language[STT_OAIRT_LANGUAGE_MAX];
    char prompt[STT_OAIRT_PROMPT_MAX];
    int has_turn_detection;
    int turn_detection; /* 1 server_vad, 0 null */
    int has_threshold, has_prefix_padding_ms, has_silence_duration_ms;
    double threshold;
    int prefix_padding_ms, silence_duration_ms;
    int has_noise_reduction;
    char noise_reduction[16]; /* "" for null */
    int has_include;
    int include_logprobs;
} stt_oairt_update_t;

/* Applies an update: members present replace the session's; a turn_detection object replaces
 * the whole turn configuration (absent fields take the defaults), as OpenAI does. */
void stt_oairt_session_apply(stt_oairt_session_t *s, const stt_oairt_update_t *u);

typedef enum {
    STT_OAIRT_EV_NONE = 0, /* a failed parse: see the error */
    STT_OAIRT_EV_SESSION_UPDATE,
    STT_OAIRT_EV_APPEND,
    STT_OAIRT_EV_COMMIT,
    STT_OAIRT_EV_CLEAR,
} stt_oairt_kind_t;

/* "transcription_session.update", ... ; "" for NONE. */
const char *stt_oairt_kind_name(stt_oairt_kind_t k);

typedef struct {
    stt_oairt_kind_t kind;
    char event_id[STT_OAIRT_EVENT_ID_MAX]; /* "" when the client gave none */
    stt_oairt_update_t update;             /* SESSION_UPDATE */
    uint8_t *audio;                        /* APPEND: decoded bytes, owned (dispose) */
    size_t audio_bytes;
} stt_oairt_event_t;

/* A parse error, as the `error` event reports it. */
typedef struct {
    const char *code;                      /* static: "invalid_value", ... */
    char message[256];
    char param[64];                        /* "" = null */
    char event_id[STT_OAIRT_EVENT_ID_MAX]; /* the event's, when it could be read; "" = null */
} stt_oairt_error_t;

/* Parses one complete text message of len bytes (need not be NUL-terminated). max_bytes caps
 * it (0 = STT_OAIRT_MAX_MESSAGE_BYTES); max_audio_bytes caps an append's decoded audio (0 = no
 * cap beyond max_bytes), checked before the audio is allocated. Returns 0 and fills *out
 * (stt_oairt_event_dispose it); or -1, leaves *out empty and fills *err. */
int stt_oairt_parse(const char *buf, size_t len, size_t max_bytes, size_t max_audio_bytes,
                    stt_oairt_event_t *out, stt_oairt_error_t *err);

/* Frees an append's audio and empties the event. NULL-safe. */
void stt_oairt_event_dispose(stt_oairt_event_t *ev);

/* Builders: malloc'd NUL-terminated JSON (free() it); never NULL (allocation aborts).
 * event_id is the server event's id ("event_..."); text is UTF-8 (bad bytes become U+FFFD). */

/* type "transcription_session.created" or "transcription_session.updated". */
char *stt_oairt_build_session(const char *type, const char *event_id,
                              const stt_oairt_session_t *s);
char *stt_oairt_build_speech_started(const char *event_id, uint64_t audio_start_ms,
                                     const char *item_id);
char *stt_oairt_build_speech_stopped(const char *event_id, uint64_t audio_end_ms,
                                     const char *item_id);
/* previous_item_id NULL or "" is written as null (the session's first item). */
char *stt_oairt_build_committed(const char *event_id, const char *previous_item_id,
                                const char *item_id);
char *stt_oairt_build_cleared(const char *event_id);
/* The user message item {id, object "realtime.item", type "message", status "completed",
 * role "user", content [{type "input_audio", transcript null}]}. */
char *stt_oairt_build_item_created(const char *event_id, const char *previous_item_id,
                                   const char *item_id);
char *stt_oairt_build_delta(const char *event_id, const char *item_id, const char *delta);
char *stt_oairt_build_completed(const char *event_id, const char *item_id,
                                const char *transcript);
char *stt_oairt_build_failed(const char *event_id, const char *item_id, const char *code,
                             const char *message);
/* type is "invalid_request_error" or "server_error". */
char *stt_oairt_build_error(const char *event_id, const char *type, const stt_oairt_error_t *e);

#endif /* STT_PROTO_OPENAI_REALTIME_H */
