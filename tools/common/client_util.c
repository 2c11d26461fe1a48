/* Helpers shared by stt-client and stt-loadgen; see client_util.h. */
#include "client_util.h"

#include <ev.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stt/error.h"
#include "stt/log.h"

int64_t stt_tool_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int stt_tool_parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return STT_ERANGE;
    *out = v;
    return 0;
}

int stt_tool_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return STT_ERANGE;
    *out = v;
    return 0;
}

void stt_tool_signals_install(void (*on_signal)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

SNDFILE *stt_tool_sf_open(const char *prog, const char *path, SF_INFO *info)
{
    memset(info, 0, sizeof(*info));
    SNDFILE *sf = sf_open(path, SFM_READ, info);
    if (!sf)
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, sf_strerror(NULL));
    return sf;
}

/* libsndfile reads 16-bit PCM as x / 32768, so scaling by 32768 passes it through bit-exact. */
int16_t stt_tool_to_s16(float x)
{
    float v = x * 32768.0f;
    if (!(v > -32768.0f)) /* also maps NaN to the floor rather than leaving it undefined */
        return -32768;
    if (v > 32767.0f)
        return 32767;
    return (int16_t)lrintf(v);
}

void stt_tool_mix_to_mono(const float *in, size_t frames, int channels, int16_t *out)
{
    for (size_t i = 0; i < frames; i++) {
        float acc = 0.0f;
        for (int c = 0; c < channels; c++)
            acc += in[i * (size_t)channels + (size_t)c];
        out[i] = stt_tool_to_s16(acc / (float)channels);
    }
}

void stt_tool_s16_to_le(const int16_t *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t u = (uint16_t)in[i];
        out[2 * i] = (uint8_t)(u & 0xff);
        out[2 * i + 1] = (uint8_t)(u >> 8);
    }
}

const char *stt_tool_json_str(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* Appends "?" or "&" (whichever the path so far needs) and then s to out at *o. */
static void add_query(char *out, size_t cap, size_t *o, const char *s)
{
    *o += (size_t)snprintf(out + *o, cap - *o, "%c%s", strchr(out, '?') ? '&' : '?', s);
}

/* Builds "/path[?query][&session=ID]" with the id percent-encoded. Caller frees. */
static char *build_path(const char *path, const char *default_path, const char *query,
                        const char *session)
{
    /* lws_parse_uri drops the leading '/' of a path but returns "/" for an empty one. */
    if (default_path && (!path[0] || strcmp(path, "/") == 0))
        path = default_path;
    size_t cap = strlen(path) + 2 + (query ? strlen(query) + 1 : 0) +
                 (session ? 9 + 3 * strlen(session) : 0) + 1;
    char *out = stt_malloc(cap);
    size_t o = (size_t)snprintf(out, cap, "%s%s", path[0] == '/' ? "" : "/", path);
    if (query && *query)
        add_query(out, cap, &o, query);
    if (session) {
        add_query(out, cap, &o, "session=");
        for (const unsigned char *p = (const unsigned char *)session; *p; p++) {
            if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                strchr("-._~", *p))
                out[o++] = (char)*p;
            else
                o += (size_t)snprintf(out + o, cap - o, "%%%02X", *p);
        }
        out[o] = '\0';
    }
    return out;
}

int stt_tool_target_parse(stt_tool_target_t *t, const char *url, const char *default_path,
                          const char *query, const char *session)
{
    const char *prot = NULL, *path = NULL;
    memset(t, 0, sizeof(*t));
    t->buf = stt_strdup(url);
    if (lws_parse_uri(t->buf, &prot, &t->address, &t->port, &path) || !*t->address)
        return STT_EINVAL;
    if (strcmp(prot, "wss") == 0) {
#if defined(LWS_WITH_TLS)
        t->tls = 1;
#else
        return STT_EUNSUPPORTED;
#endif
    } else if (strcmp(prot, "tcp") == 0) {
        t->raw = 1;
    } else if (strcmp(prot, "ws") != 0) {
        return STT_EINVAL;
    }
    t->path = build_path(path, default_path, query, session);
    snprintf(t->host, sizeof(t->host), "%s:%d", t->address, t->port);
    return 0;
}

void stt_tool_target_dispose(stt_tool_target_t *t)
{
    free(t->buf);
    free(t->path);
    t->buf = t->path = NULL;
}

void stt_tool_connect_info_init(struct lws_client_connect_info *ci, struct lws_context *ctx,
                                const stt_tool_target_t *t, struct lws **pwsi)
{
    memset(ci, 0, sizeof(*ci));
    ci->context = ctx;
    ci->address = t->address;
    ci->port = t->port;
    ci->path = t->path;
    ci->host = t->host;
    ci->origin = t->host;
    ci->ssl_connection = t->tls ? LCCSCF_USE_SSL : 0;
    ci->pwsi = pwsi;
}

int stt_tool_append_header(struct lws *wsi, void *in, size_t len, const char *name,
                           const char *value)
{
    unsigned char **p = in, *end = *p + len;
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end)
               ? -1
               : 0;
}

struct lws_context *stt_tool_lws_context_create(const struct lws_protocols *protocols, void *user,
                                                unsigned fd_limit, int tls, struct ev_loop *evl)
{
    struct lws_context_creation_info info;
    void *foreign[1] = {evl};
    memset(&info, 0, sizeof(info));
    if (evl) {
        info.options |= LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = foreign; /* read during lws_create_context only */
    }
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = user;
    info.fd_limit_per_thread = fd_limit;
    info.timeout_secs = 15;
    if (tls)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    return lws_create_context(&info);
}

int stt_tool_lws_service(struct lws_context *ctx, struct ev_loop *evl)
{
    if (!evl)
        return lws_service(ctx, 0);
    ev_run(evl, EVRUN_ONCE);
    return 0;
}

int stt_tool_rx_add(stt_tool_rx_t *rx, const void *in, size_t len, int final_fragment,
                    size_t max_bytes)
{
    if (!rx->in_message) {
        rx->in_message = 1;
        rx->len = 0;
        rx->overflow = 0;
    }
    if (!rx->overflow && rx->len + len > max_bytes)
        rx->overflow = 1; /* checked before growing, so a client cannot make us allocate more */
    if (!rx->overflow) {
        size_t need = rx->len + len + 1; /* + the terminator */
        if (need > rx->cap) {
            /* Doubling keeps a long fragmented message linear; small ones stay small. */
            size_t cap = rx->cap * 2 > need ? rx->cap * 2 : need;
            rx->buf = stt_realloc(rx->buf, cap);
            rx->cap = cap;
        }
        memcpy(rx->buf + rx->len, in, len);
        rx->len += len;
        rx->buf[rx->len] = '\0';
    }
    if (!final_fragment)
        return STT_TOOL_RX_MORE;
    rx->in_message = 0;
    return rx->overflow ? STT_TOOL_RX_DROPPED : STT_TOOL_RX_DONE;
}

void stt_tool_rx_dispose(stt_tool_rx_t *rx)
{
    free(rx->buf);
    memset(rx, 0, sizeof(*rx));
}
