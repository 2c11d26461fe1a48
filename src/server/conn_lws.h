/* The libwebsockets side of stt_conn_t (conn.h): what the router and housekeeping call. Not for
 * adapters. Loop thread only. */
#ifndef STT_SERVER_CONN_LWS_H
#define STT_SERVER_CONN_LWS_H

#include "adapter.h"
#include "conn.h"

struct lws;

/* A connection for an admitted request; the adapter is opened by stt_conn_open. */
stt_conn_t *stt_conn_create(const stt_conn_env_t *env, struct lws *wsi, stt_transport_t t,
                            const stt_adapter_t *a, uint64_t id, const char *ip,
                            const char *name);

/* Opens the adapter (0, or STT_E*: the caller closes and frees the connection). */
int stt_conn_open(stt_conn_t *c, const stt_adapter_env_t *env, const stt_request_t *req);

/* One received fragment of a WebSocket message: assembled up to the adapter's cap, then given
 * to the adapter. Returns 0, or -1 when the connection is closing. */
int stt_conn_on_fragment(stt_conn_t *c, const void *in, size_t len, int binary, int first,
                         int final);

/* The socket is writable: writes one queued message, or the close once the queue is empty.
 * Returns -1 when lws must close the connection. */
int stt_conn_on_writable(stt_conn_t *c);

/* The socket is gone: the adapter's on_closed, then the connection is freed. */
void stt_conn_on_socket_closed(stt_conn_t *c);

/* The WebSocket close code the connection ended with (1000 when the peer closed). */
int stt_conn_close_ws(const stt_conn_t *c);

const stt_adapter_t *stt_conn_adapter(const stt_conn_t *c);
void *stt_conn_state(const stt_conn_t *c);

/* A peer whose queued output has not moved for --stuck_socket_timeout is dropped at once (a
 * close handshake it would not read either); returns 1 if it was. */
int stt_conn_check_stuck(stt_conn_t *c, double now);

/* Idle timeout: seconds since client data last arrived. */
double stt_conn_idle_s(const stt_conn_t *c, double now);

/* Returns 1 the first time it is called for the connection (the server's shutdown of it,
 * drain or maximum duration, runs once), 0 after. */
int stt_conn_mark_shutdown(stt_conn_t *c);

/* The connection's node in the server's list, and back. */
stt_list_t *stt_conn_node(stt_conn_t *c);
stt_conn_t *stt_conn_of_node(stt_list_t *n);

#endif /* STT_SERVER_CONN_LWS_H */
