/* vosk-server WebSocket protocol codec: client text messages in, reply JSON out.
 *
 * The vosk-server protocol (alphacep/vosk-server websocket/asr_server.py) on one WebSocket:
 *
 *   client -> server  text    {"config": {"sample_rate": 8000, "words": true,
 *                                         "max_alternatives": 0, "phrase_list": [...],
 *                                         "model": "..."}}          optional, no reply
 *                     binary  PCM signed 16-bit little-endian mono  one reply each
 *                     text    {"eof" : 1}      reply: the final of what is left, then close 1000
 *                     text    {"reset" : 1}    reply: the final of the utterance so far
 *   server -> client  text    {"partial" : "..."}  or a final (see stt_vosk_build_final)
 *
 * This module parses the text messages and builds the replies; binary frames never reach it.
 * It is pure: no sockets, no globals, no state between calls. Replies are byte-identical to
 * vosk-api's own printer (see src/proto/vosk.c). docs/protocol-vosk.md is the user-facing
 * description. Thread-safe (with the cJSON caveat noted in src/proto/vosk.c). */
#ifndef STT_PROTO_VOSK_H
#define STT_PROTO_VOSK_H

#include <stddef.h>

/* Parse errors: name (the "code" of the error reply) and the WebSocket close code. */
#define STT_VOSK_ERR_MAP(XX)                                                                       \
    XX(OK, "ok", 1000)                                                                             \
    XX(TOOBIG, "message_too_large", 1009)     /* above the byte cap */                            \
    XX(JSON, "not_json", 1007)                /* empty, not UTF-8, not JSON, trailing data */     \
    XX(NOTOBJ, "not_object", 1007)            /* JSON, but not an object */                       \
    XX(UNKNOWN, "unknown_message", 1007)      /* none of "config", "eof", "reset" */              \
    XX(AMBIGUOUS, "ambiguous_message", 1007)  /* more than one of them */                         \
    XX(EOFVAL, "bad_eof", 1007)               /* "eof" present but not 1 */                       \
    XX(RESETVAL, "bad_reset", 1007)           /* "reset" present but not 1 */                     \
    XX(CONFIG, "bad_config", 1007)            /* "config" not an object */                        \
    XX(RATETYPE, "bad_sample_rate", 1007)     /* not a number, or not a whole number */           \
    XX(RATERANGE, "unsupported_sample_rate", 1007) /* outside 8000..48000 */                     \
    XX(WORDS, "bad_words", 1007)              /* "words" not a boolean or a number */             \
    XX(ALTS, "bad_max_alternatives", 1007)    /* not a whole number in 0..32 */                   \
    XX(PHRASES, "bad_phrase_list", 1007)      /* not an array of strings */                       \
    XX(MODEL, "bad_model", 1007)              /* not a string */

typedef enum {
#define STT_VOSK_ERR_ENUM(name, str, code) STT_VOSK_ERR_##name,
    STT_VOSK_ERR_MAP(STT_VOSK_ERR_ENUM)
#undef STT_VOSK_ERR_ENUM
} stt_vosk_err_t;

#define STT_VOSK_MIN_RATE_HZ 8000
#define STT_VOSK_MAX_RATE_HZ 48000
/* vosk has no upper bound; its own example client (websocket/test_alternatives.py) asks for 20.
 * 32 leaves room for that and bounds the size of a reply. */
#define STT_VOSK_MAX_ALTERNATIVES 32
/* Default cap on one text message. A config with a long phrase list is the largest legitimate
 * message; 64 KiB holds thousands of phrases. */
#define STT_VOSK_MAX_MESSAGE_BYTES 65536

/* What vosk-server assumes when the client sends no config (VOSK_SAMPLE_RATE, VOSK_SHOW_WORDS and
 * VOSK_ALTERNATIVES unset): 8 kHz, word times on, no alternatives. */
#define STT_VOSK_DEFAULT_RATE_HZ 8000
#define STT_VOSK_DEFAULT_WORDS 1
#define STT_VOSK_DEFAULT_MAX_ALTERNATIVES 0

typedef enum {
    STT_VOSK_MSG_NONE = 0, /* a failed parse */
    STT_VOSK_MSG_CONFIG,
    STT_VOSK_MSG_EOF,
    STT_VOSK_MSG_RESET,
} stt_vosk_kind_t;

/* Bits of stt_vosk_config_t.present: which keys the client sent. */
#define STT_VOSK_HAS_SAMPLE_RATE (1u << 0)
#define STT_VOSK_HAS_WORDS (1u << 1)
#define STT_VOSK_HAS_MAX_ALTERNATIVES (1u << 2)
#define STT_VOSK_HAS_PHRASE_LIST (1u << 3)
#define STT_VOSK_HAS_MODEL (1u << 4)

/* A parsed config. A field whose key was absent holds the default above (phrases: none, model:
 * NULL), so `present` matters only to a caller that merges configs. */
typedef struct {
    unsigned present;        /* STT_VOSK_HAS_* bits */
    int sample_rate_hz;      /* 8000..48000 */
    int words;               /* 0 or 1 */
    int max_alternatives;    /* 0..STT_VOSK_MAX_ALTERNATIVES */
    const char *const *phrases; /* n_phrases UTF-8 strings; owned by the message */
    size_t n_phrases;
    const char *model;       /* UTF-8, uninterpreted; owned by the message; NULL if absent */
} stt_vosk_config_t;

typedef struct {
    stt_vosk_kind_t kind;
    stt_vosk_config_t config; /* kind == STT_VOSK_MSG_CONFIG only */
    void *mem;                /* owned: phrases and model live here; stt_vosk_msg_dispose() */
} stt_vosk_msg_t;

/* Parses one complete text message of len bytes (need not be NUL-terminated). max_bytes caps the
 * message (0 = STT_VOSK_MAX_MESSAGE_BYTES). On success fills *out (dispose it) and returns
 * STT_VOSK_ERR_OK. On error leaves *out empty (kind STT_VOSK_MSG_NONE, nothing to dispose, though
 * disposing is harmless), writes a specific one-line message into err (e.g. "sample_rate must be
 * a number, got string \"x\""; may be NULL) and returns the code.
 *
 * Liberal where vosk-server is strict: it compares eof and reset byte for byte
 * (message == '{"eof" : 1}'); we accept any JSON object whose "eof" (or "reset") is 1, 1.0 or
 * true, whatever the spacing and whatever other keys it has. */
stt_vosk_err_t stt_vosk_parse(const char *buf, size_t len, size_t max_bytes, stt_vosk_msg_t *out,
                              char *err, size_t errlen);

/* Frees what a parse allocated and empties the message. Accepts NULL and empty messages. */
void stt_vosk_msg_dispose(stt_vosk_msg_t *msg);

/* Short snake_case name of an error ("bad_sample_rate"); "unknown_vosk_error" if out of range. */
const char *stt_vosk_err_name(stt_vosk_err_t e);

/* WebSocket close code for an error (1007 invalid payload, 1009 too big; 1011 if out of range). */
int stt_vosk_err_close_code(stt_vosk_err_t e);

/* One recognised word. Times are STREAM time: seconds since the first sample of the call's
 * audio (not of the utterance, and not counting a reset as a new start). */
typedef struct {
    const char *word; /* borrowed, UTF-8, NUL-terminated */
    double start_s;
    double end_s;
    double conf; /* 0..1; negative (e.g. -1) = unknown, written as 1.0 */
} stt_vosk_word_t;

/* One hypothesis of an utterance. */
typedef struct {
    const char *text;             /* borrowed, UTF-8; NULL = the words joined by single spaces */
    double confidence;            /* 0..1; negative = unknown, written as 1.0 */
    const stt_vosk_word_t *words; /* borrowed; may be NULL when n_words is 0 */
    size_t n_words;
} stt_vosk_hyp_t;

typedef struct {
    int words;            /* nonzero: include the "result" word arrays */
    int max_alternatives; /* 0: the plain final; > 0: "alternatives", at most this many */
    double offset_s;      /* added to every word time (0 when the times are stream time already) */
} stt_vosk_final_opts_t;

/* Every builder returns a malloc'd NUL-terminated UTF-8 JSON text that the caller frees with
 * free(); none returns NULL (allocation failure aborts). Text that is not valid UTF-8 is written
 * with U+FFFD in place of each bad byte, so a reply is always a valid WebSocket text message. */

/* {"partial" : "<text>"}. text NULL means "". */
char *stt_vosk_build_partial(const char *text);

/* The final of one utterance, from the best-first hypotheses hyps[0..n_hyps) (hyps may be NULL
 * when n_hyps is 0, which gives an empty final). opts NULL means words off, no alternatives.
 * max_alternatives 0:  {"result" : [{"conf", "end", "start", "word"}, ...], "text" : "..."}
 *                      from hyps[0]; "result" only with opts->words and at least one word.
 * max_alternatives N:  {"alternatives" : [{"confidence", "result" : [{"end", "start", "word"}],
 *                      "text"}, ...]} with min(N, n_hyps) entries (one empty entry if n_hyps is
 *                      0); "result" as above, and without "conf", as vosk does.
 * Times are clamped to >= 0 and end to >= start; confidences to 0..1; non-finite numbers to 0. */
char *stt_vosk_build_final(const stt_vosk_hyp_t *hyps, size_t n_hyps,
                           const stt_vosk_final_opts_t *opts);

/* {"code" : "<code>", "error" : "<message>"}: our reply to a message we refuse (vosk-server has
 * none). code is normally stt_vosk_err_name() of a parse error; NULLs mean "". */
char *stt_vosk_build_error(const char *code, const char *message);

/* {"config" : {...}} with exactly the keys whose STT_VOSK_HAS_* bit is set, for clients and
 * tests; stt_vosk_parse() of the result gives the same config back. */
char *stt_vosk_build_config(const stt_vosk_config_t *config);

#endif /* STT_PROTO_VOSK_H */
