/* The adapter interface: one protocol on one transport. The router picks an adapter per
 * connection by listener and path, after admission accepted the request; the adapter parses the
 * request into stream parameters, creates its stream(s), turns client messages into stream
 * calls and stream events into messages (or hands them to a sink). Adapters see only
 * stt_conn_t, the stream core and their codec in src/proto, never `struct lws`.
 *
 * Threads: the loop thread only. Ownership: the adapter owns its state from open() until it
 * frees it, after on_closed() and once its last stream's closed_cb ran. */
#ifndef STT_SERVER_ADAPTER_H
#define STT_SERVER_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "core/recognizer.h"
#include "transport.h"

typedef struct stt_conn stt_conn_t; /* conn.h */

/* The request that opened the connection, borrowed for the open() call. */
typedef struct stt_request {
    const char *path;   /* "/vosk" */
    const char *method; /* "GET", "POST" (HTTP transport); "GET" for upgrades, "" on raw TCP */
    const char *ip;
    const char *name; /* the `session=` argument, "" when none */
    /* Copies the value of URL argument `key` (without "=") into buf; returns its length or -1. */
    int (*arg)(const void *req, const char *key, char *buf, size_t cap);
    /* Copies the value of request header `name` (case-insensitive, without ':') into buf;
     * returns its length or -1 when absent (raw TCP has no headers). */
    int (*header)(const void *req, const char *name, char *buf, size_t cap);
    const void *req;
} stt_request_t;

/* What every adapter may use: the configuration, the recognizer (to create streams) and the
 * metrics. Borrowed for the server's life. */
typedef struct stt_adapter_env {
    const stt_config_t *cfg;
    stt_recognizer_t *rec;
    struct stt_calls *calls; /* out-of-band results (sinks/calls.h) */
} stt_adapter_env_t;

/* A data-protocol error the adapter counts by name (stt_protocol_errors_total). */
typedef struct stt_adapter {
    const char *name;    /* "realtimestt", "vosk", ... */
    stt_transport_t transport;
    int counts_as_call; /* its connections are calls (--max_sessions, admission) */
    int out_of_band;    /* its results leave through sinks, not the socket: the connection's
                         * streams are not muted when it closes (stt_conn_finish_stream) */
    /* Accepted: parse the request, create the stream(s), return the state in *state. 0, or
     * STT_E* (the server then closes the connection with POLICY). */
    int (*open)(const stt_adapter_env_t *env, stt_conn_t *c, const stt_request_t *req,
                void **state);
    /* Optional: checks the request's credentials at the filter stage, before admission and
     * before the upgrade. Returns 0 to go on, or 401 (the client gets HTTP 401 with the JSON
     * reason *why, no upgrade). May be NULL: every request is authorized. */
    int (*authorize)(const stt_adapter_env_t *env, const stt_request_t *req, const char **why);
    /* Optional: the JSON body of an HTTP refusal of this adapter's requests (401 from
     * authorize, 404, 429/503 from admission) in the protocol's own error shape (OpenAI
     * {"error":{"message","type","code"}}, Deepgram {"err_code","err_msg"}); `code` is the
     * machine-readable reason (unauthorized, draining, overloaded, capacity, ...). Returns a
     * malloc'd NUL-terminated string (cJSON_PrintUnformatted). NULL: the server's own
     * {"error": code, "message": ..., "retry_after": s}. */
    char *(*refusal_body)(int status, const char *code, const char *message);
    /* One complete WebSocket message (or the next bytes of a raw stream; on the HTTP transport
     * the next bytes of the request body, unassembled, binary = 1). 0, or -1 when the adapter
     * closed the connection. */
    int (*on_message)(void *state, int binary, const uint8_t *buf, size_t len);
    /* A message grew past the connection's cap (stt_conn_set_max_message) (`bytes` so far): the adapter answers in its
     * protocol and closes. NULL: the connection closes with TOO_BIG. */
    void (*on_oversize)(void *state, size_t bytes, size_t max);
    /* The server wants the connection gone (drain: GOING_AWAY; --max_session_duration:
     * NORMAL): the adapter may finish what it is doing; the server closes once the streams are
     * idle. May be NULL. */
    void (*on_shutdown)(void *state, stt_close_t why);
    /* HTTP transport only: the request body is complete (every byte went to on_message, in
     * order); also called right after open() for a request without a body (GET). May be NULL. */
    void (*on_body_end)(void *state);
    /* Optional, for adapters whose connections are calls: every housekeeping tick (about once
     * a second, not while draining) with the seconds since the client last sent data
     * (stt_conn_touch), for a protocol's own inactivity rule (Deepgram
     * closes after 10 s without audio or KeepAlive). Returns 1 when the adapter closed the
     * connection (the server's --idle_timeout is then not applied), else 0. May be NULL. */
    int (*on_tick)(void *state, double idle_s);
    /* The socket is gone: close the streams; the adapter frees `state` when the last one's
     * closed_cb ran. The connection must not be used after this returns. */
    void (*on_closed)(void *state);
    /* Optional: every loop tick (50 ms) while the connection is open and not closing, for
     * work an adapter paces itself (the file API feeds decoded audio as the engine takes
     * it). Must return quickly. May be NULL. The loop walks its connections for this only
     * while at least one connection of such an adapter is open (srv->n_paced). */
    void (*on_pace)(void *state, double now);
} stt_adapter_t;

extern const stt_adapter_t stt_adapter_rtstt;         /* RealtimeSTT data socket (8012) */
extern const stt_adapter_t stt_adapter_rtstt_control; /* RealtimeSTT control socket (8011) */
extern const stt_adapter_t stt_adapter_vosk;          /* vosk-server WebSocket (/vosk) */
extern const stt_adapter_t stt_adapter_call_events;   /* /v1/calls/{id}/events subscribers */
extern const stt_adapter_t stt_adapter_audiosocket;   /* Asterisk AudioSocket (raw TCP) */
extern const stt_adapter_t stt_adapter_twilio;        /* Twilio-family streams (/twilio) */
extern const stt_adapter_t stt_adapter_jambonz;       /* jambonz custom STT (/jambonz) */
extern const stt_adapter_t stt_adapter_audiofork;     /* mod_audio_fork/_stream, listen */
extern const stt_adapter_t stt_adapter_deepgram;      /* Deepgram-style live /v1/listen */
extern const stt_adapter_t stt_adapter_openai_files;  /* OpenAI /v1/audio/..., /v1/models */
extern const stt_adapter_t stt_adapter_openai_realtime; /* OpenAI /v1/realtime transcription */

#endif /* STT_SERVER_ADAPTER_H */
