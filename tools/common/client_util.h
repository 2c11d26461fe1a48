/* Helpers shared by the command-line tools that talk to an stt-server data socket (stt-client,
 * stt-loadgen): clock, option parsing, signal setup, WAV reading and sample conversion, the
 * target URL, the lws client context and connect info, and assembly of fragmented messages.
 *
 * Threading: none of these keep state of their own; each object belongs to one thread.
 * Tool code, not library code: the functions print errors with the caller's program name
 * where noted, and never exit.
 */
#ifndef STT_TOOLS_CLIENT_UTIL_H
#define STT_TOOLS_CLIENT_UTIL_H

#include <cJSON.h>
#include <libwebsockets.h>
#include <sndfile.h>
#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in microseconds. */
int64_t stt_tool_now_us(void);

/* Parse a whole string as a number in [lo, hi]; 0, or STT_ERANGE (out untouched). */
int stt_tool_parse_double(const char *s, double lo, double hi, double *out);
int stt_tool_parse_long(const char *s, long lo, long hi, long *out);

/* Routes SIGINT and SIGTERM to on_signal and ignores SIGPIPE (a dead peer is seen by lws). */
void stt_tool_signals_install(void (*on_signal)(int));

/* sf_open for reading; on failure prints "PROG: cannot read PATH: reason" and returns NULL. */
SNDFILE *stt_tool_sf_open(const char *prog, const char *path, SF_INFO *info);

/* libsndfile float sample to int16, saturating; bit-exact for 16-bit PCM input. */
int16_t stt_tool_to_s16(float x);

/* Averages interleaved frames of `channels` channels into frames mono samples. */
void stt_tool_mix_to_mono(const float *in, size_t frames, int channels, int16_t *out);

/* Writes n samples as 2 * n little-endian bytes, the resampler's input format. */
void stt_tool_s16_to_le(const int16_t *in, size_t n, uint8_t *out);

/* The string value of obj[key], borrowed from obj; NULL when missing, not a string, or obj is
 * NULL. */
const char *stt_tool_json_str(const cJSON *obj, const char *key);

/* A ws://, wss:// or tcp:// URL taken apart for lws_client_connect_via_info. */
typedef struct {
    char *buf;           /* owned; lws_parse_uri cuts it in place and address points into it */
    const char *address; /* borrowed from buf */
    int port;
    int tls;        /* wss:// */
    int raw;        /* tcp://: a raw TCP stream, no WebSocket (path unused) */
    char *path;     /* owned: "/path", plus the query: the URL's own, then the caller's, then
                     * "session=ID" when a session is set */
    char host[300]; /* "address:port", for the Host and Origin headers */
} stt_tool_target_t;

/* Parses url (ws://, wss:// or tcp://HOST:PORT). default_path (may be NULL) replaces the path
 * when the URL names none ("/" or nothing); query (may be NULL), "key=value&..." already
 * encoded, is added to the URL's own; session (may be NULL) is percent-encoded into the query.
 * Returns 0, STT_EINVAL for a malformed or other URL, STT_EUNSUPPORTED for wss:// without TLS in
 * lws. Call stt_tool_target_dispose() in every case. */
int stt_tool_target_parse(stt_tool_target_t *t, const char *url, const char *default_path,
                          const char *query, const char *session);
void stt_tool_target_dispose(stt_tool_target_t *t);

/* Fills ci for a connection to t (borrowed: it must outlive the connect call); *pwsi receives
 * the wsi. Callers add what is theirs (opaque_user_data, iface) afterwards. */
void stt_tool_connect_info_init(struct lws_client_connect_info *ci, struct lws_context *ctx,
                                const stt_tool_target_t *t, struct lws **pwsi);

/* Adds "name value" to a client's upgrade request from LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER
 * (in and len as that callback got them); name ends with ':' ("authorization:"). 0, or -1 when
 * it does not fit (the callback then returns -1 and the connection fails). */
int stt_tool_append_header(struct lws *wsi, void *in, size_t len, const char *name,
                           const char *value);

struct ev_loop;

/* A client-only lws context (no listener) with a 15 s network timeout. protocols and user are
 * borrowed for the context's life; tls initialises the TLS library. evl: a libev loop for lws
 * to run on (epoll), NULL for lws's own poll() loop, which scans every socket on each
 * iteration. NULL on failure. */
struct lws_context *stt_tool_lws_context_create(const struct lws_protocols *protocols, void *user,
                                                unsigned fd_limit, int tls, struct ev_loop *evl);

/* One iteration of the context's loop (see stt_tool_lws_context_create); < 0 when lws failed. */
int stt_tool_lws_service(struct lws_context *ctx, struct ev_loop *evl);

/* One incoming WebSocket message assembled from its fragments. Zero-initialise it. */
typedef struct {
    char *buf; /* owned; NULL until a fragment was stored; buf[len] is always '\0', so a
                * text message can be used as a string (it may hold NULs of its own) */
    size_t len;
    size_t cap;
    int in_message; /* a message has started and its final fragment has not come */
    int overflow;   /* the message grew past max_bytes: the rest of it is dropped */
} stt_tool_rx_t;

enum {
    STT_TOOL_RX_MORE = 0,    /* the message goes on in later fragments */
    STT_TOOL_RX_DONE = 1,    /* buf and len hold the whole message */
    STT_TOOL_RX_DROPPED = 2, /* the message ended but was larger than max_bytes */
};

/* Adds one fragment (final_fragment: lws_is_final_fragment()). A message larger than
 * max_bytes sets overflow at the fragment that crosses the cap and is not kept. */
int stt_tool_rx_add(stt_tool_rx_t *rx, const void *in, size_t len, int final_fragment,
                    size_t max_bytes);

/* Frees the buffer and forgets any message in progress; rx may be reused. */
void stt_tool_rx_dispose(stt_tool_rx_t *rx);

#endif
