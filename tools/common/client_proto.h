/* The client side of the data protocols stt-server speaks, for the tools that play a caller
 * (stt-client, stt-loadgen): one codec per protocol, a table of functions that builds the
 * messages a client sends and reads each text message it receives into a small typed event, so
 * that a tool streams audio and measures transcripts the same way whatever the protocol.
 *
 * A session on every protocol here is one WebSocket: the request path (and query) comes from
 * the codec, then zero or more opening text messages, then one audio message per chunk of PCM,
 * then an optional end-of-stream text message; the server sends text messages back. A protocol
 * on another transport (AudioSocket's raw TCP) will need a transport field as well.
 *
 * Pure, as src/proto/ codecs are: no sockets, no clocks (a send stamp is passed in), no state
 * between calls, so every function is thread-safe. The codecs are static const tables that live
 * as long as the program.
 */
#ifndef STT_TOOLS_CLIENT_PROTO_H
#define STT_TOOLS_CLIENT_PROTO_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "client_util.h"

/* What a client sends: mono PCM16 at rate_hz. */
typedef struct {
    int rate_hz;
} stt_client_params_t;

typedef enum {
    STT_CLIENT_EV_UNPARSED = 0, /* not JSON, or not a message of this protocol */
    STT_CLIENT_EV_PARTIAL,      /* a hypothesis for the utterance in progress; text */
    STT_CLIENT_EV_FINAL,        /* the final text of an utterance; text (NULL when absent) */
    STT_CLIENT_EV_ERROR,        /* the server reports an error; text is its message, or NULL */
    STT_CLIENT_EV_SPEECH_START, /* the server heard an utterance start (rtstt recording_start) */
    STT_CLIENT_EV_SPEECH_END,   /* ...and end; its final follows (rtstt recording_stop) */
    STT_CLIENT_EV_LISTENING,    /* the server waits for speech (rtstt vad_detect_start) */
    STT_CLIENT_EV_OTHER,        /* a message of this protocol that none of the above covers */
} stt_client_ev_kind_t;

/* One received text message. Dispose of it with stt_client_event_dispose(). */
typedef struct {
    stt_client_ev_kind_t kind;
    const char *name; /* borrowed from json: the protocol's own name for the message
                       * ("realtime", "partial"); NULL when the message has none */
    const char *text; /* borrowed from json: transcript (PARTIAL, FINAL) or error message
                       * (ERROR); NULL when absent */
    cJSON *json;      /* owned: the whole message parsed; NULL when it is not JSON */
} stt_client_event_t;

typedef struct {
    const char *name;         /* the --protocol name: "rtstt", "vosk" */
    const char *default_path; /* request path when the URL names none ("/" or empty) */

    /* Writes "key=value&..." (already percent-encoded) for the request's query into out and
     * returns its length; 0 when there is none or it does not fit cap. NULL: never a query. */
    size_t (*query)(const stt_client_params_t *p, char *out, size_t cap);

    /* Writes the i-th opening text message (i counts from 0), which goes before any audio, and
     * returns its length; 0 when there is no i-th message or it does not fit cap. */
    size_t (*opening)(const stt_client_params_t *p, unsigned i, char *out, size_t cap);

    int audio_is_text; /* audio messages go as text frames; 0: binary */

    /* The most bytes audio() writes for n_samples, so a caller can size its buffer once. */
    size_t (*audio_max_bytes)(const stt_client_params_t *p, size_t n_samples);

    /* Builds one audio message from n_samples of PCM into out (cap bytes) and returns its
     * length; 0 when it does not fit. stamp_ns: CLOCK_REALTIME nanoseconds at which the caller
     * hands the message to the socket, carried by protocols that have a field for it (rtstt's
     * server_sent_to_stt, which the server's ingest-latency metric measures from); 0: no
     * stamp. */
    size_t (*audio)(const stt_client_params_t *p, const int16_t *pcm, size_t n_samples,
                    int64_t stamp_ns, uint8_t *out, size_t cap);

    const char *eos;      /* the end-of-stream text message, NULL when there is none */
    int closes_after_eos; /* the server answers eos with its last final and then closes */

    /* The server repeats its current hypothesis on every audio message, unchanged or empty
     * (vosk answers each chunk): only a non-empty change is new information. 0: every partial
     * is a new one (rtstt sends a partial only when its text changed). */
    int repeats_partials;

    /* Reads one complete text message (len bytes; buf need not be NUL-terminated) into *ev,
     * which owns what it points to afterwards. Never fails: what it cannot read is UNPARSED. */
    void (*parse)(const char *buf, size_t len, stt_client_event_t *ev);
} stt_client_proto_t;

/* The names --protocol accepts, for usage texts; the first is the default. */
#define STT_CLIENT_PROTO_NAMES "rtstt|vosk"

/* The codec named name (static, never freed), or NULL when there is none. */
const stt_client_proto_t *stt_client_proto_find(const char *name);

/* The default codec, RealtimeSTT's data socket. */
const stt_client_proto_t *stt_client_proto_default(void);

/* Option handler for --protocol (see opts.h, STT_TOOL_OPT_FN): stores the codec named arg in
 * *(const stt_client_proto_t **)out; 0, or prints "PROG: --protocol must be ..." and returns
 * STT_EINVAL. */
int stt_client_proto_opt(void *out, const char *prog, const char *arg);

/* Parses url as stt_tool_target_parse() does, with the request path taken from the codec when
 * the URL names none and the codec's query added; session (may be NULL) is added as
 * "session=ID". Returns 0 or a negative STT_E* code like stt_tool_target_parse(); call
 * stt_tool_target_dispose() in every case. */
int stt_client_proto_target(stt_tool_target_t *t, const stt_client_proto_t *proto,
                            const stt_client_params_t *p, const char *url, const char *session);

/* Frees what ev owns and clears it; ev may be reused. */
void stt_client_event_dispose(stt_client_event_t *ev);

#endif
