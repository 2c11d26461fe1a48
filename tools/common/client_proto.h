/* The client side of the data protocols stt-server speaks, for the tools that play a caller
 * (stt-client, stt-loadgen): one codec per protocol, a table of functions that builds the
 * messages a client sends and reads each text message it receives into a small typed event, so
 * that a tool streams audio and measures transcripts the same way whatever the protocol.
 *
 * A session is one connection, a WebSocket on every protocol but AudioSocket (raw TCP, the
 * codec's transport): on a WebSocket the request path (and query) comes from the codec, with an
 * optional subprotocol and Authorization header, then zero or more opening text messages, then
 * one audio message per chunk of PCM, then an optional end-of-stream text message; the server
 * sends text messages back (or nothing: Twilio). On raw TCP the same messages are byte strings
 * written to the stream, and what comes back is not read as events.
 *
 * Each call has an identity (stt_client_params_t.call_id), from which the protocols that name
 * their calls (Twilio's streamSid and callSid, jambonz's and audio_fork's callSid, AudioSocket's
 * UUID) derive theirs, so that concurrent calls never share one.
 *
 * Pure, as src/proto/ codecs are: no sockets, no clocks (a send stamp is passed in), no state
 * between calls (the position of a message in its call is passed in), so every function is
 * thread-safe. The codecs are static const tables that live as long as the program.
 */
#ifndef STT_TOOLS_CLIENT_PROTO_H
#define STT_TOOLS_CLIENT_PROTO_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "client_util.h"

/* What a client sends: mono PCM16 at rate_hz, as the call call_id. */
typedef struct {
    int rate_hz;
    const char *call_id; /* borrowed; unique among the calls of one run, printable ASCII;
                          * NULL: "call". Twilio's customParameters.call_id, and the seed of
                          * the ids the protocols need (see the codecs) */
    const char *api_key; /* borrowed; jambonz's "Authorization: Bearer KEY"; NULL: none */
} stt_client_params_t;

typedef enum {
    STT_CLIENT_TRANSPORT_WS = 0, /* a WebSocket (ws:// URL) */
    STT_CLIENT_TRANSPORT_TCP,    /* a raw TCP stream (tcp://HOST:PORT): AudioSocket */
} stt_client_transport_t;

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
    const char *name;         /* the --protocol name: "rtstt", "vosk", "twilio", ... */
    stt_client_transport_t transport;
    const char *default_path; /* request path when the URL names none ("/" or empty) */
    int default_rate_hz;      /* the send rate when the user names none; 0: the tool's own */
    const char *subprotocol;  /* Sec-WebSocket-Protocol to request; NULL: none */

    /* Writes the value of the request's Authorization header ("Bearer KEY") into out and
     * returns its length; 0 when there is none or it does not fit cap. NULL: never one. */
    size_t (*authorization)(const stt_client_params_t *p, char *out, size_t cap);

    /* Writes "key=value&..." (already percent-encoded) for the request's query into out and
     * returns its length; 0 when there is none or it does not fit cap. NULL: never a query. */
    size_t (*query)(const stt_client_params_t *p, char *out, size_t cap);

    /* Writes the i-th opening message (i counts from 0), which goes before any audio, and
     * returns its length; 0 when there is no i-th message or it does not fit cap. A text
     * message on a WebSocket, bytes on raw TCP. */
    size_t (*opening)(const stt_client_params_t *p, unsigned i, char *out, size_t cap);

    int audio_is_text; /* audio messages go as text frames; 0: binary */

    /* The most bytes audio() writes for n_samples, so a caller can size its buffer once; 0 when
     * the protocol cannot carry p->rate_hz (Twilio: mu-law at 8000 Hz only). */
    size_t (*audio_max_bytes)(const stt_client_params_t *p, size_t n_samples);

    /* Builds one audio message from n_samples of PCM into out (cap bytes) and returns its
     * length; 0 when it does not fit. stamp_ns: CLOCK_REALTIME nanoseconds at which the caller
     * hands the message to the socket, carried by protocols that have a field for it (rtstt's
     * server_sent_to_stt, which the server's ingest-latency metric measures from); 0: no
     * stamp. index: the audio messages of the call before this one; sample: the samples
     * before this one's first (Twilio's counters and timestamp). */
    size_t (*audio)(const stt_client_params_t *p, const int16_t *pcm, size_t n_samples,
                    int64_t stamp_ns, uint64_t index, uint64_t sample, uint8_t *out,
                    size_t cap);

    /* Writes the end-of-stream message, sent after n_audio audio messages, and returns its
     * length; 0 when it does not fit. NULL: the protocol has none (the client just closes). */
    size_t (*eos)(const stt_client_params_t *p, uint64_t n_audio, char *out, size_t cap);
    int closes_after_eos; /* the server answers eos with its last final and then closes */
    int results_out_of_band; /* the server sends no results on this connection (Twilio,
                              * AudioSocket; audio_fork unless asked): a client is done once
                              * its audio and eos went out */

    /* The server repeats its current hypothesis on every audio message, unchanged or empty
     * (vosk answers each chunk): only a non-empty change is new information. 0: every partial
     * is a new one (rtstt sends a partial only when its text changed). */
    int repeats_partials;

    /* Reads one complete text message (len bytes; buf need not be NUL-terminated) into *ev,
     * which owns what it points to afterwards. Never fails: what it cannot read is UNPARSED. */
    void (*parse)(const char *buf, size_t len, stt_client_event_t *ev);
} stt_client_proto_t;

/* The names --protocol accepts, for usage texts; the first is the default. */
#define STT_CLIENT_PROTO_NAMES "rtstt|vosk|twilio|jambonz|audiofork|audiosocket"

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
 * "session=ID". The URL's scheme must suit the codec's transport (tcp:// for raw TCP, ws:// or
 * wss:// otherwise). Returns 0 or a negative STT_E* code like stt_tool_target_parse(), STT_EINVAL
 * for a scheme of the other transport; call stt_tool_target_dispose() in every case. */
int stt_client_proto_target(stt_tool_target_t *t, const stt_client_proto_t *proto,
                            const stt_client_params_t *p, const char *url, const char *session);

/* The 16 bytes of a UUID (version 4 layout) derived from call_id (NULL: "call"): the same id
 * gives the same UUID, different ids different ones (two 64-bit FNV-1a hashes). */
void stt_client_call_uuid(const char *call_id, uint8_t out[16]);

/* Frees what ev owns and clears it; ev may be reused. */
void stt_client_event_dispose(stt_client_event_t *ev);

#endif
