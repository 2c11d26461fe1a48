/* A client connection on the loop thread, whatever its transport (WebSocket, plain HTTP, raw
 * TCP): an output queue with a stuck-peer policy, message assembly, and semantic close reasons
 * mapped per transport in one table. Adapters talk to their client only through this; they
 * never see `struct lws`.
 *
 * Threads: the loop thread only. Ownership: the server creates a connection when a request is
 * admitted and frees it after the socket closed and the adapter's on_closed returned; queued
 * messages are owned by the queue. */
#ifndef STT_SERVER_CONN_H
#define STT_SERVER_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"
#include "stt/config.h"
#include "stt/list.h"
#include "stt/stream.h"

typedef enum { STT_TRANSPORT_WS = 0, STT_TRANSPORT_HTTP, STT_TRANSPORT_RAW } stt_transport_t;

/* Why the server ends (or refuses) a connection, and what each transport makes of it: a
 * WebSocket close code, an HTTP status (refusals carry Retry-After), or, on raw TCP, a hang-up.
 *      name          WS    HTTP  text */
#define STT_CLOSE_MAP(XX)                                                                        \
    XX(NORMAL, 1000, 200, "normal")                                                              \
    XX(GOING_AWAY, 1001, 503, "server shutting down")                                            \
    XX(BAD_INPUT, 1007, 400, "invalid payload")                                                  \
    XX(POLICY, 1008, 400, "policy violation")                                                    \
    XX(TOO_BIG, 1009, 413, "too large")                                                          \
    XX(UNAUTHORIZED, 1008, 401, "unauthorized")                                                  \
    XX(RATE_LIMITED, 1008, 429, "rate limited")                                                  \
    XX(TRY_LATER, 1013, 503, "try again later")

typedef enum {
#define STT_CLOSE_ENUM(name, ws, http, text) STT_CLOSE_##name,
    STT_CLOSE_MAP(STT_CLOSE_ENUM)
#undef STT_CLOSE_ENUM
} stt_close_t;

int stt_close_ws_code(stt_close_t why);
int stt_close_http_status(stt_close_t why);
const char *stt_close_text(stt_close_t why);

typedef struct stt_conn stt_conn_t;
struct stt_adapter;

/* What a connection needs of its server: the configuration and the metrics it counts into. */
typedef struct {
    const stt_config_t *cfg;
    stt_metrics_t *m;
} stt_conn_env_t;

/* A peer's queue holds at most this many bytes: past that it is not reading, and it is dropped
 * at once (a close frame would only queue behind the rest). */
#define STT_OUTQ_MAX_BYTES ((size_t)64 << 20)

/* Queues one message (a WebSocket text or binary message, HTTP body bytes, raw bytes). Returns
 * 0, or -1 when the connection is closing or gone (nothing queued) or its peer has stopped
 * reading (then the connection is dropped at once, counted as stuck). */
int stt_conn_send(stt_conn_t *c, int binary, const void *buf, size_t len);

/* Queues a NUL-terminated text message and frees it (cJSON_Print output); NULL is a no-op. */
int stt_conn_send_json(stt_conn_t *c, char *json);

/* Closes after the queued output is written: a close frame with the reason's code (WS), or a
 * hang-up (raw). `detail` is the close frame's reason text (cut to 123 bytes). No-op when
 * already closing. */
void stt_conn_close(stt_conn_t *c, stt_close_t why, const char *detail);

/* Like stt_conn_close with an explicit WebSocket close code (a protocol's own code). */
void stt_conn_close_code(stt_conn_t *c, int ws_code, const char *detail);

/* 1 once closing or gone: sends are dropped. */
int stt_conn_closing(const stt_conn_t *c);

/* Streams the connection's adapter made, so the server can drain, price and time them out
 * without knowing the protocol. Borrowed; detach before closing the stream. */
void stt_conn_attach_stream(stt_conn_t *c, stt_stream_t *s);
void stt_conn_detach_stream(stt_conn_t *c, stt_stream_t *s);
size_t stt_conn_streams(const stt_conn_t *c, stt_stream_t **out, size_t max);

/* Identity, for logs, pairing and metrics. */
uint64_t stt_conn_id(const stt_conn_t *c);
const char *stt_conn_ip(const stt_conn_t *c);
/* The `session=` URL argument ("" when none). */
const char *stt_conn_name(const stt_conn_t *c);
double stt_conn_opened_s(const stt_conn_t *c);
const stt_conn_env_t *stt_conn_env(const stt_conn_t *c);

/* Caps an assembled incoming message (0: no cap); an adapter sets it in open(). */
void stt_conn_set_max_message(stt_conn_t *c, size_t bytes);

/* The connection received client data (audio or a message) now: --idle_timeout restarts. */
void stt_conn_touch(stt_conn_t *c);

#endif /* STT_SERVER_CONN_H */
