/* The router: the listeners (control 8011, data 8012, monitoring 8080, the optional whole-port
 * vosk listener) and, per listener, a path -> adapter table. A WebSocket upgrade is routed and
 * admitted at the filter stage, before the upgrade: a refusal is an HTTP response (503 with
 * Retry-After and a JSON reason, 404 for an unknown path), so a client sees why without a
 * WebSocket handshake. An accepted upgrade gets a connection (conn.c) bound to its adapter.
 * Plain HTTP requests on the data port (the file APIs) go through the same steps from their
 * own table, `http_routes`, and get a connection on the HTTP transport: the body reaches the
 * adapter as it arrives, the adapter answers through conn.c. Refusal bodies take the adapter's
 * error shape when it has one (refusal_body).
 *
 * Adding a protocol: an adapter in adapters/ plus one row in a route table below; a protocol
 * that owns a whole port: a route table, a WS_PROTOCOLS line and a row in `listeners`.
 *
 * Threads: the loop thread runs every callback. Ownership: the per-connection lws user data
 * (pss_t) points at the stt_conn_t, which the router frees on LWS_CALLBACK_CLOSED (or
 * LWS_CALLBACK_CLOSED_HTTP). */
#include "router.h"

#include "admit.h"
#include "adapter.h"
#include "conn.h"
#include "monitor.h"

#include "stt/log.h"

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct {
    const char *prefix; /* "/vosk" matches "/vosk", "/vosk/..." and "/vosk?..."; "/" matches all */
    const stt_adapter_t *adapter; /* NULL ends a table */
    /* A prefix the configuration chooses (--twilio_path, --jambonz_path), instead of
     * `prefix`. */
    const char *(*config_prefix)(const stt_config_t *cfg);
} route_t;

static const char *twilio_path(const stt_config_t *cfg)
{
    return cfg->twilio_path;
}

static const char *jambonz_path(const stt_config_t *cfg)
{
    return cfg->jambonz_path;
}

/* One table per listener; the first matching row wins. */
static const route_t data_routes[] = {
    {"/vosk", &stt_adapter_vosk, NULL},
    {"/v1/calls", &stt_adapter_call_events, NULL},
    {NULL, &stt_adapter_jambonz, jambonz_path},
    {"/audio_fork", &stt_adapter_audiofork, NULL},
    {"/audio_stream", &stt_adapter_audiofork, NULL},
    {"/listen", &stt_adapter_audiofork, NULL},
    {NULL, &stt_adapter_twilio, twilio_path},
    /* The other platforms of the family, whatever --twilio_path says (dialect from messages). */
    {"/telnyx", &stt_adapter_twilio, NULL},
    {"/plivo", &stt_adapter_twilio, NULL},
    {"/signalwire", &stt_adapter_twilio, NULL},
    {"/exotel", &stt_adapter_twilio, NULL},
    {"/vonage", &stt_adapter_twilio, NULL},
    {"/", &stt_adapter_rtstt, NULL},
    {NULL, NULL, NULL},
};
/* Plain HTTP requests on the data port (no upgrade): the standard APIs' file endpoints. A path
 * no row matches gets 404. */
static const route_t http_routes[] = {
    {NULL, NULL, NULL},
};
static const route_t control_routes[] = {
    {"/", &stt_adapter_rtstt_control, NULL},
    {NULL, NULL, NULL},
};
static const route_t vosk_routes[] = {
    {"/", &stt_adapter_vosk, NULL},
    {NULL, NULL, NULL},
};
static const route_t audiosocket_routes[] = {
    {"/", &stt_adapter_audiosocket, NULL},
    {NULL, NULL, NULL},
};

typedef struct {
    stt_conn_t *conn;
    const stt_adapter_t *adapter; /* chosen at the filter stage */
} pss_t;

static const stt_adapter_t *route(const route_t *table, const char *path,
                                  const stt_config_t *cfg)
{
    for (const route_t *r = table; r->adapter; r++) {
        const char *prefix = r->config_prefix ? r->config_prefix(cfg) : r->prefix;
        size_t n = strlen(prefix);
        if (strcmp(prefix, "/") == 0 ||
            (strncmp(path, prefix, n) == 0 &&
             (path[n] == '\0' || path[n] == '/' || path[n] == '?')))
            return r->adapter;
    }
    return NULL;
}

/* ---- request helpers ---- */

static void peer_ip(struct lws *wsi, char *buf, size_t len)
{
    if (!lws_get_peer_simple(wsi, buf, len))
        snprintf(buf, len, "unknown");
}

static int url_arg(const void *req, const char *key, char *buf, size_t cap)
{
    struct lws *wsi = (struct lws *)req;
    char name[64], tmp[256];
    snprintf(name, sizeof(name), "%s=", key);
    if (lws_get_urlarg_by_name(wsi, name, tmp, sizeof(tmp)) == NULL)
        return -1;
    /* lws 4.1 returns the value after "name="; older versions the whole "name=value" */
    size_t k = strlen(name);
    const char *v = strncmp(tmp, name, k) == 0 ? tmp + k : tmp;
    snprintf(buf, cap, "%s", v);
    return (int)strlen(buf);
}

/* A raw TCP connection has no URL and no arguments. */
static int no_arg(const void *req, const char *key, char *buf, size_t cap)
{
    return -1;
}

/* A request header by name: the ones lws parses itself by token, any other one as a custom
 * header (lws keeps those whole when built with LWS_WITH_CUSTOM_HEADERS, Debian's default). */
static int http_header(const void *req, const char *name, char *buf, size_t cap)
{
    static const struct {
        const char *name;
        enum lws_token_indexes token;
    } known[] = {
        {"authorization", WSI_TOKEN_HTTP_AUTHORIZATION},
        {"user-agent", WSI_TOKEN_HTTP_USER_AGENT},
        {"sec-websocket-protocol", WSI_TOKEN_PROTOCOL},
        {"host", WSI_TOKEN_HOST},
    };
    struct lws *wsi = (struct lws *)req;
    if (cap == 0)
        return -1;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcasecmp(name, known[i].name) == 0) {
            if (lws_hdr_total_length(wsi, known[i].token) <= 0)
                return -1;
            int n = lws_hdr_copy(wsi, buf, (int)cap, known[i].token);
            return n < 0 ? -1 : n;
        }
    }
#if defined(LWS_WITH_CUSTOM_HEADERS)
    char key[96];
    size_t k = 0;
    for (; name[k] && k + 2 < sizeof(key); k++)
        key[k] = (char)tolower((unsigned char)name[k]);
    key[k++] = ':';
    key[k] = '\0';
    int len = lws_hdr_custom_length(wsi, key, (int)k);
    if (len < 0 || (size_t)len >= cap)
        return -1;
    int n = lws_hdr_custom_copy(wsi, buf, (int)cap, key, (int)k);
    return n < 0 ? -1 : n;
#else
    return -1;
#endif
}

static int no_header(const void *req, const char *name, char *buf, size_t cap)
{
    return -1;
}

static void url_session(struct lws *wsi, char *buf, size_t len)
{
    if (url_arg(wsi, "session", buf, len) < 0)
        buf[0] = '\0';
}

static void note_connection(stt_metrics_t *m)
{
    int64_t now = (int64_t)time(NULL);
    int slot = (int)(now % 60);
    if (m->conn_minute_sec[slot] != now) {
        m->conn_minute_sec[slot] = now;
        m->conn_minute[slot] = 0;
    }
    m->conn_minute[slot]++;
}

static void count_close(stt_metrics_t *m, int code)
{
    int i = code == 1000 ? 0 : code == 1001 ? 1 : code == 1007 ? 2 : code == 1009 ? 3 : 4;
    m->close_codes[i]++;
}

static const char *status_text(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

/* An HTTP/1.1 answer instead of the upgrade: status, Retry-After, and a JSON body
 * {"error": code, "message": ..., "retry_after": s}, written in one piece on the socket that
 * asked (a few hundred bytes: the kernel takes them whole). Returns -1: lws then closes. */
static int refuse(struct lws *wsi, const stt_adapter_t *a, int status, int retry_after_s,
                  const char *code, const char *message)
{
    char *body = a && a->refusal_body ? a->refusal_body(status, code, message) : NULL;
    if (!body) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", code);
        cJSON_AddStringToObject(o, "message", message);
        if (retry_after_s > 0)
            cJSON_AddNumberToObject(o, "retry_after", retry_after_s);
        body = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    char ra[48] = "";
    if (retry_after_s > 0)
        snprintf(ra, sizeof(ra), "Retry-After: %d\r\n", retry_after_s);
    unsigned char buf[LWS_PRE + 4096];
    int n = snprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n%sCache-Control: no-store\r\n"
                     "Connection: close\r\n\r\n%s",
                     status, status_text(status), strlen(body), ra, body);
    cJSON_free(body);
    if (n > 0 && (size_t)n < sizeof(buf) - LWS_PRE &&
        lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_RAW) != n)
        STT_WARN(0, "refusal_unsent", "the HTTP %d answer could not be written whole", status);
    return -1;
}

/* ---- WebSocket listeners ---- */

/* Authorization, then admission, of a request for adapter `a`: 0 with pss->adapter set, or
 * the refusal answered (-1: lws closes). */
static int check_request(stt_server_t *srv, struct lws *wsi, pss_t *pss, const stt_adapter_t *a,
                         const char *path, const char *ip, const char *method)
{
    if (a->authorize) {
        const char *why = "unauthorized";
        stt_request_t req = {.path = path, .method = method, .ip = ip, .name = "",
                             .arg = url_arg, .header = http_header, .req = wsi};
        int status = a->authorize(&srv->adapter_env, &req, &why);
        if (status != 0) {
            STT_WARN(0, "unauthorized", "%s asked for %s: %s", ip, path, why);
            return refuse(wsi, a, status, 0, status == 401 ? "unauthorized" : "bad_request",
                          why);
        }
    }
    stt_refusal_t r;
    if (stt_admit(srv, a, ip, &r) != 0)
        return refuse(wsi, a, stt_close_http_status(r.why), r.retry_after_s, r.code, r.message);
    pss->adapter = a;
    return 0;
}

static int filter(stt_server_t *srv, struct lws *wsi, pss_t *pss, const route_t *routes)
{
    char path[256] = "/", ip[64];
    if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0)
        snprintf(path, sizeof(path), "/");
    peer_ip(wsi, ip, sizeof(ip));
    const stt_adapter_t *a = route(routes, path, srv->cfg);
    if (!a) {
        STT_WARN(0, "no_route", "%s asked for %s: no such endpoint", ip, path);
        return refuse(wsi, NULL, 404, 0, "not_found", "no such endpoint");
    }
    return check_request(srv, wsi, pss, a, path, ip, "GET");
}

/* An admitted connection: its stt_conn_t, counted, its adapter opened. */
static stt_conn_t *accept_conn(stt_server_t *srv, struct lws *wsi, pss_t *pss,
                               const char *ip, const char *name, const char *path,
                               const char *method)
{
    const stt_adapter_t *a = pss->adapter;
    uint64_t id = a->counts_as_call ? ++srv->next_conn_id : 0;
    stt_conn_t *c = stt_conn_create(&srv->conn_env, wsi, a->transport, a, id, ip, name);
    stt_list_insert_tail(&srv->conns, stt_conn_node(c));
    pss->conn = c;
    if (a->counts_as_call) {
        srv->n_calls++;
        srv->rec->load.talk_sum += 1.0; /* priced fully until the next sample */
        srv->rec->m.sessions_total++;
        note_connection(&srv->rec->m);
    } else {
        srv->n_other++;
    }
    stt_request_t req = {.path = path,
                         .method = method,
                         .ip = ip,
                         .name = name,
                         .arg = a->transport == STT_TRANSPORT_RAW ? no_arg : url_arg,
                         .header = a->transport == STT_TRANSPORT_RAW ? no_header : http_header,
                         .req = wsi};
    if (stt_conn_open(c, &srv->adapter_env, &req) != 0)
        stt_conn_close(c, STT_CLOSE_POLICY, "request refused");
    return c;
}

static int established(stt_server_t *srv, struct lws *wsi, pss_t *pss)
{
    char ip[64], name[64], path[256] = "/";
    peer_ip(wsi, ip, sizeof(ip));
    url_session(wsi, name, sizeof(name));
    if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0)
        snprintf(path, sizeof(path), "/");
    accept_conn(srv, wsi, pss, ip, name, path, "GET");
    return 0;
}

/* The socket is gone (WebSocket or raw). */
static void conn_gone(stt_server_t *srv, pss_t *pss)
{
    stt_conn_t *c = pss->conn;
    pss->conn = NULL;
    if (pss->adapter->counts_as_call) {
        count_close(&srv->rec->m, stt_conn_close_ws(c));
        srv->n_calls--;
    } else {
        srv->n_other--;
    }
    stt_conn_on_socket_closed(c);
}

/* ---- plain HTTP requests on the data port ---- */

static const char *http_method(struct lws *wsi)
{
    static const struct {
        enum lws_token_indexes token;
        const char *name;
    } methods[] = {
        {WSI_TOKEN_GET_URI, "GET"},         {WSI_TOKEN_POST_URI, "POST"},
        {WSI_TOKEN_OPTIONS_URI, "OPTIONS"}, {WSI_TOKEN_PUT_URI, "PUT"},
        {WSI_TOKEN_PATCH_URI, "PATCH"},     {WSI_TOKEN_DELETE_URI, "DELETE"},
        {WSI_TOKEN_HEAD_URI, "HEAD"},
    };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (lws_hdr_total_length(wsi, methods[i].token) > 0)
            return methods[i].name;
    return "";
}

/* A request without a body (no Content-Length, or 0) is complete at once. */
static int http_has_body(struct lws *wsi)
{
    char v[32];
    if (lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
        return 0;
    return strtoull(v, NULL, 10) > 0;
}

/* LWS_CALLBACK_HTTP on the data port: route by path, authorize, admit, then a connection on
 * the HTTP transport whose adapter reads the body as it arrives and answers. */
static int http_request(stt_server_t *srv, struct lws *wsi, pss_t *pss, const char *uri)
{
    char path[256], ip[64];
    snprintf(path, sizeof(path), "%s", uri && uri[0] ? uri : "/");
    peer_ip(wsi, ip, sizeof(ip));
    const char *method = http_method(wsi);
    const stt_adapter_t *a = route(http_routes, path, srv->cfg);
    if (!a) {
        STT_WARN(0, "no_route", "%s asked for %s %s: no such endpoint", ip, method, path);
        return refuse(wsi, NULL, 404, 0, "not_found", "no such endpoint");
    }
    /* libwebsockets 4.1 does not decode a chunked request body (it never completes): such a
     * request is answered at once instead of hanging. Clients send Content-Length for
     * multipart uploads of files (curl -F, the OpenAI SDKs). */
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        STT_WARN(0, "chunked_body", "%s sent %s %s with a chunked body: refused", ip, method,
                 path);
        return refuse(wsi, a, 411, 0, "length_required",
                      "send the request body with a Content-Length header "
                      "(chunked transfer encoding is not supported)");
    }
    if (check_request(srv, wsi, pss, a, path, ip, method) != 0)
        return -1;
    stt_conn_t *c = accept_conn(srv, wsi, pss, ip, "", path, method);
    if (!http_has_body(wsi))
        stt_conn_http_body_end(c);
    return 0;
}

/* Every WebSocket listener's callback; its route table is the protocol's `user` pointer. */
static int cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
    stt_server_t *srv = lws_context_user(lws_get_context(wsi));
    const struct lws_protocols *proto = lws_get_protocol(wsi);
    const route_t *routes = proto ? proto->user : NULL;
    pss_t *pss = user;
    stt_conn_t *c = pss ? pss->conn : NULL;

    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* Delivered to every protocol of every vhost: one of them (the data vhost's first,
         * id 1; its subprotocol aliases share the routes) hands the jobs back. */
        if (srv->rec && routes == data_routes && proto->id == 1)
            stt_recognizer_dispatch(srv->rec);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return routes ? filter(srv, wsi, pss, routes) : -1;
    case LWS_CALLBACK_ESTABLISHED:
        return established(srv, wsi, pss);
    case LWS_CALLBACK_RECEIVE:
        if (!c)
            return 0;
        stt_conn_on_fragment(c, in, len, lws_frame_is_binary(wsi), lws_is_first_fragment(wsi),
                             lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi));
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c ? stt_conn_on_writable(c) : 0;
    case LWS_CALLBACK_CLOSED:
        if (c)
            conn_gone(srv, pss);
        return 0;
    case LWS_CALLBACK_HTTP:
        if (routes != data_routes)
            return lws_callback_http_dummy(wsi, reason, user, in, len);
        return http_request(srv, wsi, pss, (const char *)in);
    case LWS_CALLBACK_HTTP_BODY:
        if (c) {
            stt_conn_touch(c);
            stt_conn_on_fragment(c, in, len, 1, 1, 1);
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (c)
            stt_conn_http_body_end(c);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return c ? stt_conn_on_writable(c) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c)
            conn_gone(srv, pss);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* Every raw TCP listener's callback (a byte stream, no HTTP: AudioSocket): its route table's
 * first row is the adapter. Admission runs when the socket is adopted; a refusal is a hang-up
 * (raw TCP has no way to say why; it is logged and counted). */
static int cb_raw(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    stt_server_t *srv = lws_context_user(lws_get_context(wsi));
    const struct lws_protocols *proto = lws_get_protocol(wsi);
    const route_t *routes = proto ? proto->user : NULL;
    pss_t *pss = user;
    stt_conn_t *c = pss ? pss->conn : NULL;

    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT: {
        char ip[64];
        peer_ip(wsi, ip, sizeof(ip));
        if (!routes || !routes[0].adapter)
            return -1;
        stt_refusal_t r;
        if (stt_admit(srv, routes[0].adapter, ip, &r) != 0) {
            STT_WARN(0, "raw_refused", "%s refused on the %s port: %s", ip,
                     routes[0].adapter->name, r.message);
            return -1; /* hang up */
        }
        pss->adapter = routes[0].adapter;
        accept_conn(srv, wsi, pss, ip, "", "", "");
        return 0;
    }
    case LWS_CALLBACK_RAW_RX:
        if (c)
            stt_conn_on_fragment(c, in, len, 1, 1, 1);
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE:
        return c ? stt_conn_on_writable(c) : 0;
    case LWS_CALLBACK_RAW_CLOSE:
        if (c)
            conn_gone(srv, pss);
        return 0;
    default:
        return 0;
    }
}

/* One protocol per listener: the callback and the route table (as `user`). */
#define WS_PROTOCOLS(var, name, routes)                                                          \
    static const struct lws_protocols var[] = {                                                 \
        {name, cb_ws, sizeof(pss_t), 65536, 0, (void *)(routes), 0},                            \
        {NULL, NULL, 0, 0, 0, NULL, 0}}

/* A raw TCP listener's protocol: cb_raw, with the adapter's route table as `user`. */
#define RAW_PROTOCOLS(var, name, routes)                                                         \
    static const struct lws_protocols var[] = {                                                 \
        {name, cb_raw, sizeof(pss_t), 65536, 0, (void *)(routes), 0},                           \
        {NULL, NULL, 0, 0, 0, NULL, 0}}

WS_PROTOCOLS(control_protocols, "stt-control", control_routes);
/* The data port's protocols: lws picks one by the client's Sec-WebSocket-Protocol offer and
 * echoes its name; a client that offers none gets the first. FreeSWITCH mod_audio_fork offers
 * audio.drachtio.org (jambonz's build audio.jambonz.org) and expects it echoed: those names are
 * aliases of the data protocol with the same callback and routes (the path still picks the
 * adapter). A client that offers only names not listed here is refused by lws (it closes the
 * connection during the handshake: RFC 6455 lets the server pick none, lws does not). */
static const struct lws_protocols data_protocols[] = {
    {"stt-data", cb_ws, sizeof(pss_t), 65536, 1, (void *)data_routes, 0},
    {"audio.drachtio.org", cb_ws, sizeof(pss_t), 65536, 2, (void *)data_routes, 0},
    {"audio.jambonz.org", cb_ws, sizeof(pss_t), 65536, 3, (void *)data_routes, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};
WS_PROTOCOLS(vosk_protocols, "stt-vosk", vosk_routes);
RAW_PROTOCOLS(audiosocket_protocols, "stt-audiosocket", audiosocket_routes);

/* ---- listeners ---- */

static struct lws_vhost *make_vhost(stt_server_t *srv, const char *name, int port,
                                    const struct lws_protocols *protocols, int raw)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.vhost_name = name;
    info.port = port;
    info.iface = srv->cfg->host && srv->cfg->host[0] ? srv->cfg->host : NULL;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (raw) { /* every accepted socket is a raw byte stream bound to protocols[0] */
        info.options |= LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
        info.listen_accept_role = "raw-skt";
        info.listen_accept_protocol = protocols[0].name;
    }
    /* permessage-deflate (RFC 7692) on the WebSocket listeners when --ws_deflate: negotiated
     * when a client offers it (mod_audio_stream does by default). Off, the offer is declined
     * by omission (no Sec-WebSocket-Extensions in the answer), which every client must accept. */
    static const struct lws_extension deflate[] = {
        {"permessage-deflate", lws_extension_callback_pm_deflate,
         "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
        {NULL, NULL, NULL}};
    if (!raw && protocols != stt_monitor_protocols && srv->cfg->ws_deflate)
        info.extensions = deflate;
    info.keepalive_timeout = 5;
    struct lws_vhost *vh = lws_create_vhost(srv->ctx, &info);
    if (!vh)
        STT_ERROR(0, "listen_failed", "cannot listen on %s:%d (%s)", info.iface ? info.iface : "*",
                  port, name);
    return vh;
}

static int64_t control_port(const stt_config_t *cfg)
{
    return cfg->control_port;
}

static int64_t data_port(const stt_config_t *cfg)
{
    return cfg->data_port;
}

static int64_t vosk_port(const stt_config_t *cfg)
{
    return cfg->vosk_port;
}

static int64_t audiosocket_port(const stt_config_t *cfg)
{
    return cfg->audiosocket_port;
}

static int64_t monitor_port(const stt_config_t *cfg)
{
    return cfg->monitor_port;
}

/* The listeners: name, port (0 = off), protocol table (the monitor's is monitor.c's) and
 * kind: WebSocket/HTTP, or raw TCP (a RAW_PROTOCOLS table: AudioSocket's). */
static const struct {
    const char *name;
    int64_t (*port)(const stt_config_t *cfg);
    const struct lws_protocols *protocols; /* NULL: stt_monitor_protocols */
    int raw;
} listeners[] = {
    {"control", control_port, control_protocols, 0},
    {"data", data_port, data_protocols, 0},
    {"monitor", monitor_port, NULL, 0},
    {"vosk", vosk_port, vosk_protocols, 0},
    {"audiosocket", audiosocket_port, audiosocket_protocols, 1},
};

int stt_router_listen(stt_server_t *srv)
{
    for (size_t i = 0; i < sizeof(listeners) / sizeof(listeners[0]); i++) {
        int64_t port = listeners[i].port(srv->cfg);
        const struct lws_protocols *p =
            listeners[i].protocols ? listeners[i].protocols : stt_monitor_protocols;
        if (port > 0 && !make_vhost(srv, listeners[i].name, (int)port, p, listeners[i].raw))
            return -1;
    }
    return 0;
}
