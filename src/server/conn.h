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
#include "transport.h"

typedef struct stt_conn stt_conn_t;
struct stt_adapter;
struct stt_adapter_env;
struct stt_request;
struct lws;

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

/* Queues a NUL-terminated text message and frees it (cJSON_Print output); NULL is a no-op.
 * `c` may be NULL (an adapter whose connection is gone) or closing: the message is freed
 * unsent and -1 returned. */
int stt_conn_send_json(stt_conn_t *c, char *json);

/* Closes after the queued output is written: a close frame with the reason's code (WS), or a
 * hang-up (raw). `detail` is the close frame's reason text (cut to 123 bytes). No-op when
 * already closing. */
void stt_conn_close(stt_conn_t *c, stt_close_t why, const char *detail);

/* Like stt_conn_close with an explicit WebSocket close code (a protocol's own code). */
void stt_conn_close_code(stt_conn_t *c, int ws_code, const char *detail);

/* Drops the connection now, for a peer that does not read: its queued output is freed and the
 * socket is killed at once, without a close handshake it would not read either (`ws_code` and
 * `detail` are only what the connection reports as its close). Sends are dropped from now on;
 * on_closed follows from the loop as for any close. No-op on a socket already gone. */
void stt_conn_drop(stt_conn_t *c, int ws_code, const char *detail);

/* Bytes queued and not yet written (the stuck-peer and slow-subscriber checks). */
size_t stt_conn_queued_bytes(const stt_conn_t *c);

/* 1 once closing or gone: sends are dropped. */
int stt_conn_closing(const stt_conn_t *c);

/* ---- HTTP transport (STT_TRANSPORT_HTTP): one request, one response, then the connection
 * closes (every response says Connection: close). The request body reaches the adapter's
 * on_message in chunks as it arrives, then on_body_end. The response is a head
 * (stt_conn_http_head), body bytes (stt_conn_send, any number of times: a streamed response
 * such as SSE writes as it goes) and stt_conn_close(c, STT_CLOSE_NORMAL, NULL), which ends it
 * once everything queued is written. A response may start before the request body has
 * arrived (413 at the headers): the connection then reads and discards the rest of the body
 * (up to STT_HTTP_DISCARD_MAX bytes, and within --idle_timeout) before it closes, so the
 * client reads the answer instead of a connection reset. ---- */

#define STT_HTTP_DISCARD_MAX ((size_t)64 << 20)

/* Queues the response head: the status line, Content-Type, Content-Length when
 * content_length >= 0 (else the body runs until the close: streamed responses, SSE),
 * Cache-Control: no-store, Connection: close, and `extra` header lines ("Name: value\r\n"
 * each, or NULL). Once per connection: returns 0, or -1 when a head was already queued or the
 * connection is closing. */
int stt_conn_http_head(stt_conn_t *c, int status, const char *content_type,
                       int64_t content_length, const char *extra);

/* A whole response: the head (with Content-Length), the body, and the close. Returns 0 or
 * -1 as stt_conn_http_head. */
int stt_conn_http_respond(stt_conn_t *c, int status, const char *content_type,
                          const void *body, size_t len);

/* 1 once the response head was queued. */
int stt_conn_http_responded(const stt_conn_t *c);

/* On the HTTP transport, stt_conn_close before any head was queued answers with the reason's
 * HTTP status (transport.h) and a JSON body {"error": {"message": detail, "type": text}};
 * after a head it ends the response. */

/* The most streams one connection owns (stereo, two tracks, ...). */
#define STT_CONN_MAX_STREAMS 8

/* Creates a stream of this connection (stt_stream_create), so the server can drain, price,
 * time out and mute it without knowing the protocol. NULL when the connection already has
 * STT_CONN_MAX_STREAMS. */
stt_stream_t *stt_conn_open_stream(stt_conn_t *c, stt_recognizer_t *rec,
                                   const stt_stream_params_t *p, stt_stream_event_cb cb,
                                   void *cb_data);
/* Takes the stream from the connection and starts its two-phase close (stt_stream_close). */
void stt_conn_close_stream(stt_conn_t *c, stt_stream_t *s, stt_stream_closed_cb closed_cb,
                           void *data);
/* Takes the stream from the connection and finishes it (stt_stream_finish): the utterance
 * recording now is ended, every final still due is delivered to the stream's callback, then
 * closed_cb runs. For adapters whose results leave out-of-band: the caller hung up, its last
 * words still reach the sinks. */
void stt_conn_finish_stream(stt_conn_t *c, stt_stream_t *s, stt_stream_closed_cb closed_cb,
                            void *data);
/* The connection's streams, borrowed until the next open or close of one; *n of them. */
stt_stream_t *const *stt_conn_streams(const stt_conn_t *c, size_t *n);

/* Identity, for logs, pairing and metrics. */
uint64_t stt_conn_id(const stt_conn_t *c);
const char *stt_conn_ip(const stt_conn_t *c);
/* The `session=` URL argument ("" when none). */
const char *stt_conn_name(const stt_conn_t *c);
double stt_conn_opened_s(const stt_conn_t *c);

/* Caps an assembled incoming message (0: no cap); an adapter sets it in open(). */
void stt_conn_set_max_message(stt_conn_t *c, size_t bytes);

/* Which kinds of message the adapter takes (both by default); the others are logged once per
 * message and skipped unassembled. */
#define STT_CONN_ACCEPT_TEXT 1u
#define STT_CONN_ACCEPT_BINARY 2u
void stt_conn_set_accept(stt_conn_t *c, unsigned kinds);

/* The connection received client data (audio or a message) now: --idle_timeout restarts. */
void stt_conn_touch(stt_conn_t *c);

/* ---- The server side: the router, housekeeping and the loop call these; adapters never do
 * (they have no struct lws to give). ---- */

/* A connection for an admitted request; the adapter is opened by stt_conn_open. */
stt_conn_t *stt_conn_create(const stt_conn_env_t *env, struct lws *wsi, stt_transport_t t,
                            const struct stt_adapter *a, uint64_t id, const char *ip,
                            const char *name);

/* Opens the adapter (0, or STT_E*: the caller closes and frees the connection). */
int stt_conn_open(stt_conn_t *c, const struct stt_adapter_env *env,
                  const struct stt_request *req);

/* One received fragment of a WebSocket message: assembled up to the adapter's cap, then given
 * to the adapter. Returns 0, or -1 when the connection is closing. */
int stt_conn_on_fragment(stt_conn_t *c, const void *in, size_t len, int binary, int first,
                         int final);

/* HTTP transport: the request body is complete (the router calls this on lws' body
 * completion, and right after stt_conn_open for a request without a body): the adapter's
 * on_body_end, or, when the response already ended, the close it waited for. */
void stt_conn_http_body_end(stt_conn_t *c);

/* The socket is writable: writes one queued message, or the close once the queue is empty.
 * Returns -1 when lws must close the connection. */
int stt_conn_on_writable(stt_conn_t *c);

/* The socket is gone: the adapter's on_closed, then the connection is freed. */
void stt_conn_on_socket_closed(stt_conn_t *c);

/* The WebSocket close code the connection ended with (1000 when the peer closed). */
int stt_conn_close_ws(const stt_conn_t *c);

const struct stt_adapter *stt_conn_adapter(const stt_conn_t *c);
void *stt_conn_state(const stt_conn_t *c);

/* A peer whose queued output has not moved for --stuck_socket_timeout is dropped at once (a
 * close handshake it would not read either); returns 1 if it was. */
int stt_conn_check_stuck(stt_conn_t *c, double now);

/* Idle timeout: seconds since client data last arrived. */
double stt_conn_idle_s(const stt_conn_t *c, double now);

/* Returns 1 the first time it is called for the connection and reason (the server's shutdown
 * of it, drain or maximum duration, runs once each), 0 after. */
int stt_conn_mark_shutdown(stt_conn_t *c, stt_close_t why);

/* The connection's node in the server's list, and back. */
stt_list_t *stt_conn_node(stt_conn_t *c);
stt_conn_t *stt_conn_of_node(stt_list_t *n);

#endif /* STT_SERVER_CONN_H */
