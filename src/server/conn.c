/* Connections (conn.h, conn_lws.h): output queue, message assembly, close mapping, stuck
 * peers.
 *
 * Threads: the loop thread only. Ownership: the connection owns its queued messages (each with
 * LWS_PRE bytes of headroom for lws_write) and its assembly buffer; the adapter state is the
 * adapter's. Freed by stt_conn_on_socket_closed, after the adapter's on_closed. */
#include "adapter.h"
#include "conn.h"

#include "stt/clock.h"
#include "stt/log.h"

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
    stt_list_t link;
    size_t len;
    int binary;
    unsigned char buf[]; /* LWS_PRE headroom, then the message */
} outmsg_t;

struct stt_conn {
    stt_list_t node; /* in the server's connection list */
    const stt_conn_env_t *env;
    struct lws *wsi; /* NULL once the socket is gone */
    stt_transport_t transport;
    const stt_adapter_t *adapter;
    void *state;
    uint64_t id;
    char ip[64];
    char name[64];
    double opened_s, last_rx_s;
    /* output */
    stt_list_t out;
    size_t out_count, out_bytes;
    uint64_t out_sent;
    double out_moved_s;
    uint64_t out_last_sent;
    int closing;
    int close_code;
    char close_reason[124];
    /* receive assembly of one (possibly fragmented) message */
    uint8_t *rx;
    size_t rx_len, rx_cap;
    size_t rx_max;
    int rx_dropping;
    unsigned accept; /* STT_CONN_ACCEPT_* kinds of message the adapter takes */ /* the message in progress overflowed: ignore its remaining fragments */
    unsigned shutdown_marked; /* 1 << stt_close_t of each shutdown done */
    stt_stream_t *streams[STT_CONN_MAX_STREAMS];
    size_t n_streams;
    /* HTTP transport */
    int http_head;      /* the response head was queued */
    int http_body_done; /* the request body was read to its end */
    size_t http_discarded; /* body bytes read and thrown away after the response began */
};

static const struct {
    int ws, http;
    const char *text;
} close_map[] = {
#define STT_CLOSE_ROW(name, ws, http, text) {ws, http, text},
    STT_CLOSE_MAP(STT_CLOSE_ROW)
#undef STT_CLOSE_ROW
};

int stt_close_ws_code(stt_close_t why)
{
    return close_map[why].ws;
}

int stt_close_http_status(stt_close_t why)
{
    return close_map[why].http;
}

const char *stt_close_text(stt_close_t why)
{
    return close_map[why].text;
}

/* ---- identity ---- */

uint64_t stt_conn_id(const stt_conn_t *c)
{
    return c->id;
}

const char *stt_conn_ip(const stt_conn_t *c)
{
    return c->ip;
}

const char *stt_conn_name(const stt_conn_t *c)
{
    return c->name;
}

double stt_conn_opened_s(const stt_conn_t *c)
{
    return c->opened_s;
}

const stt_adapter_t *stt_conn_adapter(const stt_conn_t *c)
{
    return c->adapter;
}

void *stt_conn_state(const stt_conn_t *c)
{
    return c->state;
}

int stt_conn_closing(const stt_conn_t *c)
{
    return !c->wsi || c->closing;
}

size_t stt_conn_queued_bytes(const stt_conn_t *c)
{
    return c->out_bytes;
}

int stt_conn_close_ws(const stt_conn_t *c)
{
    return c->closing ? c->close_code : 1000;
}

stt_list_t *stt_conn_node(stt_conn_t *c)
{
    return &c->node;
}

stt_conn_t *stt_conn_of_node(stt_list_t *n)
{
    return stt_container_of(n, stt_conn_t, node);
}

void stt_conn_set_max_message(stt_conn_t *c, size_t bytes)
{
    c->rx_max = bytes;
}

void stt_conn_set_accept(stt_conn_t *c, unsigned kinds)
{
    c->accept = kinds;
}

int stt_conn_mark_shutdown(stt_conn_t *c, stt_close_t why)
{
    unsigned bit = 1u << why;
    if (c->shutdown_marked & bit)
        return 0;
    c->shutdown_marked |= bit;
    return 1;
}

void stt_conn_touch(stt_conn_t *c)
{
    c->last_rx_s = stt_now_s();
}

double stt_conn_idle_s(const stt_conn_t *c, double now)
{
    return now - c->last_rx_s;
}

/* ---- streams ---- */

stt_stream_t *stt_conn_open_stream(stt_conn_t *c, stt_recognizer_t *rec,
                                   const stt_stream_params_t *p, stt_stream_event_cb cb,
                                   void *cb_data)
{
    if (c->n_streams == STT_CONN_MAX_STREAMS)
        return NULL;
    stt_stream_t *s = stt_stream_create(rec, p, cb, cb_data);
    c->streams[c->n_streams++] = s;
    return s;
}

/* The connection no longer owns the stream (drain, timeouts and mute skip it). */
static void take_stream(stt_conn_t *c, stt_stream_t *s)
{
    for (size_t i = 0; i < c->n_streams; i++) {
        if (c->streams[i] == s) {
            c->streams[i] = c->streams[--c->n_streams];
            break;
        }
    }
}

void stt_conn_close_stream(stt_conn_t *c, stt_stream_t *s, stt_stream_closed_cb closed_cb,
                           void *data)
{
    take_stream(c, s);
    stt_stream_close(s, closed_cb, data);
}

void stt_conn_finish_stream(stt_conn_t *c, stt_stream_t *s, stt_stream_closed_cb closed_cb,
                            void *data)
{
    take_stream(c, s);
    stt_stream_finish(s, closed_cb, data);
}

stt_stream_t *const *stt_conn_streams(const stt_conn_t *c, size_t *n)
{
    *n = c->n_streams;
    return c->streams;
}

/* ---- output ---- */

static void out_clear(stt_conn_t *c)
{
    stt_list_t *n, *nx;
    stt_list_foreach_safe(n, nx, &c->out) {
        stt_list_remove(n);
        free(stt_container_of(n, outmsg_t, link));
    }
    c->out_count = c->out_bytes = 0;
}

/* The client will not see more output: its streams stop delivering events. */
static void mute_streams(stt_conn_t *c)
{
    if (c->adapter->out_of_band)
        return; /* its results leave through sinks, which outlive the socket */
    for (size_t i = 0; i < c->n_streams; i++)
        stt_stream_mute(c->streams[i]);
}

void stt_conn_drop(stt_conn_t *c, int ws_code, const char *detail)
{
    if (!c->closing) {
        c->closing = 1;
        c->close_code = ws_code;
        snprintf(c->close_reason, sizeof(c->close_reason), "%s", detail ? detail : "");
        mute_streams(c);
    }
    out_clear(c);
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

/* Drops a peer that stopped reading at once, without a close handshake it would not read
 * either: its queue is freed and it is counted as stuck_socket. */
static void drop_stuck(stt_conn_t *c, int cap_hit)
{
    size_t queued = c->out_bytes;
    stt_conn_drop(c, 1008, "client is not reading transcripts");
    c->env->m->sockets_stuck++;
    if (cap_hit)
        STT_WARN(c->id, "stuck_socket", "peer is not reading: its output queue reached %zu bytes "
                 "(cap %zu); dropping it", queued, STT_OUTQ_MAX_BYTES);
    else
        STT_WARN(c->id, "stuck_socket", "peer read nothing for %.0f s (%zu bytes queued); "
                 "dropping it", c->env->cfg->stuck_socket_timeout, queued);
}

int stt_conn_send(stt_conn_t *c, int binary, const void *buf, size_t len)
{
    if (stt_conn_closing(c))
        return -1;
    if (c->out_bytes > 0 && c->out_bytes + len > STT_OUTQ_MAX_BYTES) {
        drop_stuck(c, 1); /* one message alone may be larger (a very long utterance's audio) */
        return -1;
    }
    if (c->env->cfg->use_extended_logging && !binary)
        STT_INFO(c->id, "send", "%.*s", len > 200 ? 200 : (int)len, (const char *)buf);
    outmsg_t *m = stt_malloc(sizeof(*m) + LWS_PRE + len);
    m->len = len;
    m->binary = binary;
    memcpy(m->buf + LWS_PRE, buf, len);
    stt_list_insert_tail(&c->out, &m->link);
    c->out_count++;
    c->out_bytes += len;
    lws_callback_on_writable(c->wsi);
    return 0;
}

int stt_conn_send_json(stt_conn_t *c, char *json)
{
    if (!json)
        return -1;
    if (!c) { /* the adapter's connection is already gone */
        free(json);
        return -1;
    }
    int rc = stt_conn_send(c, 0, json, strlen(json));
    free(json);
    return rc;
}

void stt_conn_close_code(stt_conn_t *c, int ws_code, const char *detail)
{
    if (stt_conn_closing(c))
        return;
    c->closing = 1;
    c->close_code = ws_code;
    /* Close reasons must fit a control frame (123 bytes); longer ones are cut. */
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", detail ? detail : "");
    mute_streams(c);
    lws_callback_on_writable(c->wsi);
}

void stt_conn_close(stt_conn_t *c, stt_close_t why, const char *detail)
{
    if (c->transport == STT_TRANSPORT_HTTP && !c->http_head && !stt_conn_closing(c)) {
        /* No answer yet: the reason's status, with a JSON body saying why. */
        cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "message", detail ? detail : stt_close_text(why));
        cJSON_AddStringToObject(e, "type", stt_close_text(why));
        char *body = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        stt_conn_http_respond(c, stt_close_http_status(why), "application/json", body,
                              strlen(body));
        cJSON_free(body);
        c->close_code = stt_close_ws_code(why);
        return;
    }
    stt_conn_close_code(c, stt_close_ws_code(why), detail ? detail : stt_close_text(why));
}

/* ---- HTTP transport ---- */

static const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

int stt_conn_http_head(stt_conn_t *c, int status, const char *content_type,
                       int64_t content_length, const char *extra)
{
    if (c->transport != STT_TRANSPORT_HTTP || c->http_head || stt_conn_closing(c))
        return -1;
    char len[48] = "";
    if (content_length >= 0)
        snprintf(len, sizeof(len), "Content-Length: %lld\r\n", (long long)content_length);
    size_t cap = 256 + strlen(content_type) + (extra ? strlen(extra) : 0);
    char *head = stt_malloc(cap);
    int n = snprintf(head, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%sCache-Control: no-store\r\n"
                     "Connection: close\r\n%s\r\n",
                     status, http_reason(status), content_type, len, extra ? extra : "");
    c->http_head = 1;
    int rc = n > 0 && (size_t)n < cap ? stt_conn_send(c, 1, head, (size_t)n) : -1;
    free(head);
    return rc;
}

int stt_conn_http_respond(stt_conn_t *c, int status, const char *content_type,
                          const void *body, size_t len)
{
    if (stt_conn_http_head(c, status, content_type, (int64_t)len, NULL) != 0)
        return -1;
    if (len > 0 && stt_conn_send(c, 1, body, len) != 0)
        return -1;
    stt_conn_close_code(c, 1000, "");
    return 0;
}

int stt_conn_http_responded(const stt_conn_t *c)
{
    return c->http_head;
}

void stt_conn_http_body_end(stt_conn_t *c)
{
    if (c->http_body_done)
        return;
    c->http_body_done = 1;
    if (stt_conn_closing(c)) {
        if (c->wsi) /* the response ended first: its close waited for the body */
            lws_callback_on_writable(c->wsi);
        return;
    }
    if (c->adapter->on_body_end)
        c->adapter->on_body_end(c->state);
}

int stt_conn_on_writable(stt_conn_t *c)
{
    if (!stt_list_empty(&c->out)) {
        outmsg_t *m = stt_container_of(c->out.next, outmsg_t, link);
        stt_list_remove(&m->link);
        c->out_count--;
        c->out_bytes -= m->len;
        c->out_sent++;
        enum lws_write_protocol how = c->transport == STT_TRANSPORT_RAW    ? LWS_WRITE_RAW
                                      : c->transport == STT_TRANSPORT_HTTP ? LWS_WRITE_HTTP
                                      : m->binary                          ? LWS_WRITE_BINARY
                                                                           : LWS_WRITE_TEXT;
        int n = lws_write(c->wsi, m->buf + LWS_PRE, m->len, how);
        free(m);
        if (n < 0)
            return -1;
        if (!stt_list_empty(&c->out) || c->closing) /* more, or the close after the queue */
            lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->closing) {
        /* An HTTP answer given before the request body arrived (413 at the headers) waits for
         * the body to be read and thrown away: closing now would reset the connection, and the
         * client would see the reset instead of the answer. */
        if (c->transport == STT_TRANSPORT_HTTP && !c->http_body_done)
            return 0;
        if (c->transport == STT_TRANSPORT_WS)
            lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                             (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    return 0;
}

int stt_conn_check_stuck(stt_conn_t *c, double now)
{
    if (!c->wsi)
        return 0;
    if (stt_list_empty(&c->out) || c->out_sent != c->out_last_sent || c->out_moved_s == 0) {
        c->out_moved_s = now;
        c->out_last_sent = c->out_sent;
        return 0;
    }
    double limit = c->env->cfg->stuck_socket_timeout;
    if (limit <= 0 || now - c->out_moved_s <= limit)
        return 0;
    drop_stuck(c, 0);
    c->out_moved_s = now; /* once */
    return 1;
}

/* ---- input ---- */

int stt_conn_on_fragment(stt_conn_t *c, const void *in, size_t len, int binary, int first,
                         int final)
{
    if (stt_conn_closing(c)) {
        if (c->transport == STT_TRANSPORT_HTTP && c->wsi && !c->http_body_done) {
            c->http_discarded += len;
            if (c->http_discarded > STT_HTTP_DISCARD_MAX) /* a client that never stops */
                stt_conn_drop(c, c->close_code, "request body discarded past the limit");
        }
        return -1;
    }
    if (first) {
        c->rx_len = 0;
        c->rx_dropping = 0;
        if (!(c->accept & (binary ? STT_CONN_ACCEPT_BINARY : STT_CONN_ACCEPT_TEXT))) {
            STT_WARN(c->id, binary ? "binary_frame" : "text_frame",
                     "%s frame on a %s connection ignored", binary ? "binary" : "text",
                     c->adapter->name);
            c->rx_dropping = 1; /* its fragments too, without assembling them */
        }
    }
    if (c->rx_dropping)
        return 0;
    size_t max = c->rx_max;
    if (max && c->rx_len + len > max) {
        size_t total = c->rx_len + len;
        c->rx_len = 0;
        c->rx_dropping = 1;
        if (c->adapter->on_oversize)
            c->adapter->on_oversize(c->state, total, max);
        else
            stt_conn_close(c, STT_CLOSE_TOO_BIG, "message too large");
        return -1;
    }
    if (final && c->rx_len == 0) /* common case: unfragmented, parse in place */
        return c->adapter->on_message(c->state, binary, in, len);
    if (c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 8192;
        while (cap < c->rx_len + len)
            cap *= 2;
        c->rx = stt_realloc(c->rx, cap);
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (!final)
        return 0;
    size_t n = c->rx_len;
    c->rx_len = 0;
    return c->adapter->on_message(c->state, binary, c->rx, n);
}

/* ---- lifecycle ---- */

stt_conn_t *stt_conn_create(const stt_conn_env_t *env, struct lws *wsi, stt_transport_t t,
                            const stt_adapter_t *a, uint64_t id, const char *ip,
                            const char *name)
{
    stt_conn_t *c = stt_calloc(1, sizeof(*c));
    stt_list_init(&c->node);
    stt_list_init(&c->out);
    c->env = env;
    c->wsi = wsi;
    c->transport = t;
    c->adapter = a;
    c->id = id;
    snprintf(c->ip, sizeof(c->ip), "%s", ip);
    snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
    c->opened_s = c->last_rx_s = stt_now_s();
    c->accept = STT_CONN_ACCEPT_TEXT | STT_CONN_ACCEPT_BINARY;
    return c;
}

int stt_conn_open(stt_conn_t *c, const stt_adapter_env_t *env, const stt_request_t *req)
{
    return c->adapter->open(env, c, req, &c->state);
}

void stt_conn_on_socket_closed(stt_conn_t *c)
{
    out_clear(c);
    c->wsi = NULL;
    stt_list_remove(&c->node);
    if (c->state)
        c->adapter->on_closed(c->state);
    free(c->rx);
    free(c);
}
