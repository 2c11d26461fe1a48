/* The network loop: libwebsockets context with three vhosts (control 8011, data 8012,
 * monitoring 8080), control/data pairing, the periodic tick, model loading and SIGTERM drain.
 *
 * Threads: one loop thread runs every callback here and owns every session, control connection
 * and timer. The model loader thread only loads the model and publishes it through an atomic
 * pointer; engine workers only push finished jobs into the pool's done queue and call
 * lws_cancel_service(), which makes the loop run LWS_CALLBACK_EVENT_WAIT_CANCELLED, where the jobs
 * are handed back to their sessions. Nothing here blocks, sleeps or runs inference.
 *
 * Pairing (how an unmodified RealtimeSTT client, which opens one control and one data socket
 * with no ids, finds its session): a connection may name itself with `?session=NAME` on its URL;
 * named connections pair only with the same name. Unnamed ones pair FIFO with the earliest
 * unpaired connection of the other kind from the same remote IP address, whichever arrives
 * first. Commands from an unpaired control connection change its own parameter overlay, which a
 * data session adopts when it pairs. */
#include "server.h"

#include "stt/error.h"
#include "stt/log.h"

#include <cjson/cJSON.h>

#include <malloc.h>
#include <ev.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TICK_US (50 * LWS_US_PER_MS)
#define DRAIN_NATURAL_S 3.0 /* how long SIGTERM lets utterances end by themselves */
#define WATCHDOG_GRACE_S 2.0 /* a cancelled job still running this much later: replace worker */
#define MAX_DURATION_GRACE_S 30.0 /* --max_session_duration: the last final's allowance */
#define FD_SLACK 32 /* fds beyond listeners + sockets the consistency check tolerates */

typedef struct {
    void *obj;  /* stt_session_t * or stt_ctl_t * */
    char *body; /* HTTP response body being written (monitor vhost) */
    size_t body_len;
} pss_t;

static volatile sig_atomic_t g_signal;
static _Atomic(stt_model_t *) g_loaded_model;

static void on_lws_signal(void *loop, int sig)
{
    g_signal = sig;
}

static void on_signal(int sig)
{
    g_signal = sig;
}

void stt_server_request_write(struct lws *wsi)
{
    if (wsi)
        lws_callback_on_writable(wsi);
}

/* ---- pairing ---- */

static void pair(stt_ctl_t *c, stt_session_t *s)
{
    c->session = s;
    s->ctl = c;
    if (c->overlay_set) {
        s->params = c->overlay;
        stt_session_params_changed(s);
    }
    STT_INFO(s->id, "paired", "control connection from %s paired with data session%s%s", c->ip,
             s->name[0] ? " " : "", s->name);
}

static int may_pair(const char *name_a, const char *ip_a, const char *name_b, const char *ip_b)
{
    if (name_a[0] || name_b[0])
        return strcmp(name_a, name_b) == 0;
    return strcmp(ip_a, ip_b) == 0;
}

static void pair_session(stt_server_t *srv, stt_session_t *s)
{
    stt_ctl_t *best = NULL;
    for (stt_ctl_t *c = srv->ctls; c; c = c->next)
        if (!c->session && !c->closing && may_pair(c->name, c->ip, s->name, s->ip) &&
            (!best || c->opened_s <= best->opened_s))
            best = c;
    if (best)
        pair(best, s);
}

static void pair_ctl(stt_server_t *srv, stt_ctl_t *c)
{
    stt_session_t *best = NULL;
    for (stt_session_t *s = srv->sessions; s; s = s->next)
        if (!s->ctl && !s->closing && may_pair(c->name, c->ip, s->name, s->ip) &&
            (!best || s->opened_s <= best->opened_s))
            best = s;
    if (best)
        pair(c, best);
}

/* ---- helpers ---- */

static void peer_ip(struct lws *wsi, char *buf, size_t len)
{
    if (!lws_get_peer_simple(wsi, buf, len))
        snprintf(buf, len, "unknown");
}

static void url_session(struct lws *wsi, char *buf, size_t len)
{
    buf[0] = '\0';
    char tmp[64];
    if (lws_get_urlarg_by_name(wsi, "session=", tmp, sizeof(tmp))) {
        /* 4.1 returns the value after "name=" */
        const char *eq = strchr(tmp, '=');
        const char *v = eq && strncmp(tmp, "session=", 8) == 0 ? eq + 1 : tmp;
        size_t n = strlen(v) < len - 1 ? strlen(v) : len - 1;
        memcpy(buf, v, n);
        buf[n] = 0;
    }
}

static void note_connection(stt_server_t *srv)
{
    int64_t now = (int64_t)time(NULL);
    int slot = (int)(now % 60);
    if (srv->m.conn_minute_sec[slot] != now) {
        srv->m.conn_minute_sec[slot] = now;
        srv->m.conn_minute[slot] = 0;
    }
    srv->m.conn_minute[slot]++;
}

static void count_close(stt_server_t *srv, int code)
{
    int i = code == 1000 ? 0 : code == 1001 ? 1 : code == 1007 ? 2 : code == 1009 ? 3 : 4;
    srv->m.close_codes[i]++;
}

static int write_one(struct lws *wsi, stt_outq_t *q)
{
    stt_outmsg_t *m = stt_outq_pop(q);
    if (!m)
        return 0;
    int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
    free(m);
    if (n < 0)
        return -1;
    if (q->head)
        lws_callback_on_writable(wsi);
    return 0;
}

static void reject(struct lws *wsi, int code, const char *reason)
{
    lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
}

/* ---- circuit breaker (breaker.h) and its probes ---- */

int stt_server_engine_up(const stt_server_t *srv)
{
    return srv->model != NULL && srv->breaker.state == STT_BREAKER_CLOSED;
}

/* Tells every live call about the engine's state (extended events; see docs/protocol.md). */
static void broadcast_engine_state(stt_server_t *srv)
{
    const stt_breaker_t *b = &srv->breaker;
    char msg[300];
    for (stt_session_t *s = srv->sessions; s; s = s->next) {
        if (!s->wsi || s->closing)
            continue;
        if (b->state == STT_BREAKER_OPEN) {
            snprintf(msg, sizeof(msg),
                     "speech engine unavailable (%s); this call's audio is kept and transcribed "
                     "when it recovers (next try in %.1f s)",
                     b->reason, b->retry_at_s - stt_now_s());
            stt_session_send_error(s, "engine_unavailable", msg);
        } else if (b->state == STT_BREAKER_CLOSED) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "type", "info");
            cJSON_AddStringToObject(o, "code", "engine_recovered");
            snprintf(msg, sizeof(msg), "speech engine recovered after %.1f s",
                     stt_now_s() - b->opened_s);
            cJSON_AddStringToObject(o, "message", msg);
            stt_session_send_json(s, cJSON_PrintUnformatted(o));
            cJSON_Delete(o);
        }
    }
}

static void breaker_timer_cb(lws_sorted_usec_list_t *sul);
static void start_reload(stt_server_t *srv);
static void probe_done(stt_job_t *j, void *data);

/* One probe job (engine->probe: a second of audio) while half-open. */
static void submit_probe(stt_server_t *srv)
{
    if (srv->probe_inflight || !srv->pool)
        return;
    stt_job_t *j = stt_calloc(1, sizeof(*j));
    j->kind = STT_JOB_PROBE;
    j->done = probe_done;
    j->done_data = srv;
    j->timeout_s = srv->cfg->job_timeout + srv->cfg->job_timeout_per_audio_second;
    srv->probe_inflight = 1;
    srv->jobs_in_flight++;
    stt_pool_submit(srv->pool, j);
}

/* After a transition: arm the backoff timer (open), start probing (half-open), tell the calls
 * (open, closed). */
static void breaker_changed(stt_server_t *srv)
{
    stt_breaker_t *b = &srv->breaker;
    srv->m.consecutive_errors = (uint64_t)b->consecutive_failures;
    if (b->state == STT_BREAKER_OPEN) {
        if (srv->ctx) {
            double d = b->retry_at_s - stt_now_s();
            lws_sul_schedule(srv->ctx, 0, &srv->breaker_sul, breaker_timer_cb,
                             (lws_usec_t)((d > 0 ? d : 0) * 1e6) + 1000);
        }
        broadcast_engine_state(srv);
    } else if (b->state == STT_BREAKER_HALF_OPEN) {
        srv->m.recovery_attempts++;
        int every = (int)srv->cfg->breaker_reload_after;
        if (!srv->reload_phase &&
            (!srv->model /* the last reload failed */ ||
             (every > 0 && b->openings >= every && b->openings % every == 0)))
            start_reload(srv);
        else
            submit_probe(srv);
    } else {
        broadcast_engine_state(srv);
    }
}

/* The backoff timer; the tick calls it too, so a timer that fired a microsecond early (lws'
 * clock and ours round differently: it once left the breaker open for good) only delays the
 * transition to the next tick. */
static void breaker_timer_cb(lws_sorted_usec_list_t *sul)
{
    stt_server_t *srv = lws_container_of(sul, stt_server_t, breaker_sul);
    if (stt_breaker_poll(&srv->breaker, stt_now_s()))
        breaker_changed(srv);
}

void stt_server_job_outcome(stt_server_t *srv, int status)
{
    int changed = stt_breaker_record(&srv->breaker, status == 0, stt_now_s());
    srv->m.consecutive_errors = (uint64_t)srv->breaker.consecutive_failures;
    if (changed)
        breaker_changed(srv);
}

static void probe_done(stt_job_t *j, void *data)
{
    stt_server_t *srv = data;
    srv->probe_inflight = 0;
    srv->jobs_in_flight--;
    if (j->status != 0 && j->status != STT_ECANCELED)
        STT_WARN(0, "probe_failed", "engine probe failed: %s", stt_strerror(j->status));
    int changed = j->status != STT_ECANCELED &&
                  stt_breaker_probe_done(&srv->breaker, j->status == 0, stt_now_s());
    if (changed)
        breaker_changed(srv);
    else if (srv->breaker.state == STT_BREAKER_HALF_OPEN && j->status == 0)
        submit_probe(srv); /* the next one */
    free(j);
}

/* ---- model reload: when recreated worker states did not help, the model itself ---- */

static void *loader_main(void *arg);

static void start_reload(stt_server_t *srv)
{
    STT_WARN(0, "model_reload",
             "[PRODUCTION] engine still failing after %d openings of the breaker: reloading the "
             "model", srv->breaker.openings);
    srv->reload_phase = 1;
    srv->reload_failed = 0;
}

/* Tick while reloading: phase 1 waits until no utterance holds engine state of the old model
 * and no job runs on it (releasing states as jobs hand them back), then the loader thread
 * unloads it and loads it anew (phase 2); the tick publishes the new model like the first. */
static void reload_step(stt_server_t *srv)
{
    if (srv->reload_phase == 1) {
        int held = 0;
        for (stt_session_t *s = srv->sessions; s; s = s->next)
            held += stt_session_release_engine_state(s);
        if (held > 0 || srv->jobs_in_flight > 0)
            return;
        srv->reload_phase = 2;
        srv->reload_old = srv->model;
        srv->model = NULL; /* the tick publishes the new one */
        atomic_store(&g_loaded_model, NULL);
        stt_pool_set_model(srv->pool, NULL);
        if (pthread_create(&srv->reload_thread, NULL, loader_main, srv) != 0)
            stt_fatal(__FILE__, __LINE__, "pthread_create failed");
    } else if (srv->reload_phase == 2 && srv->reload_failed) {
        pthread_join(srv->reload_thread, NULL);
        srv->reload_phase = 0;
        srv->reload_old = NULL;
        srv->m.model_reload_failures++;
        if (stt_breaker_probe_done(&srv->breaker, 0, stt_now_s()))
            breaker_changed(srv); /* reopens; the next half-open tries again */
    }
}

/* The tick published a reloaded model. */
static void reload_done(stt_server_t *srv)
{
    pthread_join(srv->reload_thread, NULL);
    srv->reload_phase = 0;
    srv->reload_old = NULL;
    srv->m.model_reloads++;
    STT_INFO(0, "model_reloaded", "[PRODUCTION] model reloaded; probing it");
    if (srv->breaker.state == STT_BREAKER_HALF_OPEN)
        submit_probe(srv);
}

/* ---- jobs coming back ---- */

static void drain_done_jobs(stt_server_t *srv)
{
    stt_pool_dispatch_done(srv->pool);
}

static void wakeup_loop(void *data)
{
    stt_server_t *srv = data;
    lws_cancel_service(srv->ctx);
}

/* ---- data socket ---- */

static int cb_data(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    stt_server_t *srv = lws_context_user(lws_get_context(wsi));
    pss_t *pss = user;
    stt_session_t *s = pss ? pss->obj : NULL;

    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        drain_done_jobs(srv);
        return 0;
    case LWS_CALLBACK_ESTABLISHED: {
        char ip[64], name[64];
        peer_ip(wsi, ip, sizeof(ip));
        url_session(wsi, name, sizeof(name));
        if (srv->draining) {
            srv->m.sessions_rejected_draining++;
            reject(wsi, 1013, "server is draining");
            return -1;
        }
        if (srv->breaker.state != STT_BREAKER_CLOSED) {
            srv->m.sessions_rejected_unavailable++;
            STT_WARN(0, "session_rejected", "engine circuit breaker %s; refusing %s",
                     stt_breaker_state_name(srv->breaker.state), ip);
            reject(wsi, 1013, "speech engine unavailable, try again later");
            return -1;
        }
        if (srv->load.overloaded || stt_load_full(srv, srv->n_sessions + 1)) {
            srv->m.sessions_rejected_overload++;
            STT_WARN(0, "session_rejected",
                     "engine overloaded (load %.2f, queue wait %.3f s; %d sessions priced at "
                     "%.1f talking, engine %.3f s per audio s); refusing %s",
                     srv->load.utilization, srv->load.queue_wait, srv->n_sessions,
                     srv->load.talk_sum, srv->load.rtf, ip);
            reject(wsi, 1013, "server overloaded, try again later");
            return -1;
        }
        if (srv->n_sessions >= srv->cfg->max_sessions) {
            srv->m.sessions_rejected_capacity++;
            STT_WARN(0, "session_rejected", "max_sessions %lld reached; refusing %s",
                     (long long)srv->cfg->max_sessions, ip);
            reject(wsi, 1013, "server at capacity, try again later");
            return -1;
        }
        s = stt_session_create(srv, wsi, ip, name);
        pss->obj = s;
        srv->load.talk_sum += 1.0; /* priced fully until the next sample */
        srv->m.sessions_total++;
        note_connection(srv);
        STT_INFO(s->id, "data_connected", "[PRODUCTION] Data client connected from %s%s%s", ip,
                 name[0] ? " session=" : "", name);
        pair_session(srv, s);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        if (!s || s->closing)
            return 0;
        if (!lws_frame_is_binary(wsi)) {
            if (lws_is_first_fragment(wsi))
                STT_WARN(s->id, "text_frame", "text frame on the data socket ignored");
            return 0;
        }
        stt_session_on_fragment(s, in, len,
                                lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi));
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!s)
            return 0;
        if (s->out.head) {
            if (write_one(wsi, &s->out) < 0)
                return -1;
            if (s->closing) /* close once the queue is flushed */
                lws_callback_on_writable(wsi);
            return 0;
        }
        if (s->closing) {
            reject(wsi, s->close_code, s->close_reason);
            return -1;
        }
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (!s)
            return 0;
        pss->obj = NULL;
        count_close(srv, s->closing ? s->close_code : 1000);
        STT_INFO(s->id, "data_closed", "[PRODUCTION] Data client disconnected (%.1f s)",
                 stt_now_s() - s->opened_s);
        if (s->ctl) {
            stt_ctl_t *c = s->ctl;
            c->session = NULL;
            c->overlay = s->params;
            c->overlay_set = 1;
            s->ctl = NULL;
            stt_session_detach(s);
            pair_ctl(srv, c);
        } else {
            stt_session_detach(s);
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ---- control socket ---- */

static void ctl_unlink(stt_server_t *srv, stt_ctl_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->ctls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->n_ctls--;
}

static int cb_control(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    stt_server_t *srv = lws_context_user(lws_get_context(wsi));
    pss_t *pss = user;
    stt_ctl_t *c = pss ? pss->obj : NULL;

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: {
        c = stt_calloc(1, sizeof(*c));
        c->srv = srv;
        c->wsi = wsi;
        c->opened_s = stt_now_s();
        peer_ip(wsi, c->ip, sizeof(c->ip));
        url_session(wsi, c->name, sizeof(c->name));
        c->overlay = srv->cfg->sess;
        c->next = srv->ctls;
        if (srv->ctls)
            srv->ctls->prev = c;
        srv->ctls = c;
        srv->n_ctls++;
        srv->m.control_total++;
        pss->obj = c;
        STT_INFO(0, "control_connected", "[PRODUCTION] Control client connected from %s%s%s", c->ip,
                 c->name[0] ? " session=" : "", c->name);
        pair_ctl(srv, c);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE: {
        if (!c)
            return 0;
        if (lws_frame_is_binary(wsi)) {
            STT_WARN(0, "control_binary", "binary frame on the control socket ignored");
            return 0;
        }
        /* Control messages are small JSON objects: assemble fragments up to 64 KiB. */
        if (lws_is_first_fragment(wsi))
            c->rx_len = 0;
        if (c->rx_len + len > 65536) {
            reject(wsi, 1009, "control message too large");
            return -1;
        }
        if (!c->rx)
            c->rx = stt_malloc(65536);
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            stt_ctl_on_message(c, c->rx, c->rx_len);
            c->rx_len = 0;
        }
        return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c)
            return 0;
        if (c->out.head) {
            if (write_one(wsi, &c->out) < 0)
                return -1;
            if (c->closing)
                lws_callback_on_writable(wsi);
            return 0;
        }
        if (c->closing) {
            reject(wsi, 1001, "server shutting down");
            return -1;
        }
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (!c)
            return 0;
        pss->obj = NULL;
        STT_INFO(0, "control_closed", "Control client disconnected (%s)", c->ip);
        ctl_unlink(srv, c);
        stt_outq_clear(&c->out);
        if (c->session) {
            stt_session_t *s = c->session;
            s->ctl = NULL;
            c->session = NULL;
            pair_session(srv, s);
        }
        free(c->rx);
        free(c);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ---- monitoring HTTP ---- */

static int cb_monitor(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    stt_server_t *srv = lws_context_user(lws_get_context(wsi));
    pss_t *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        const char *ctype;
        free(pss->body);
        int status =
            stt_monitor_http(srv, wsi, (const char *)in, &pss->body, &pss->body_len, &ctype);
        unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
                                           *end = hdr + sizeof(hdr) - 1;
        if (lws_add_http_common_headers(wsi, (unsigned)status, ctype, (lws_filepos_t)pss->body_len,
                                        &p, end))
            return 1;
        if (status == 503 && lws_add_http_header_by_name(wsi, (const unsigned char *)"Retry-After:",
                                                         (const unsigned char *)"5", 1, &p, end))
            return 1;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"Cache-Control:",
                                        (const unsigned char *)"no-store", 8, &p, end))
            return 1;
        if (lws_finalize_write_http_header(wsi, start, &p, end))
            return 1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (!pss->body)
            return 0;
        size_t n = pss->body_len;
        unsigned char *buf = stt_malloc(LWS_PRE + n + 1);
        memcpy(buf + LWS_PRE, pss->body, n);
        int w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL);
        free(buf);
        free(pss->body);
        pss->body = NULL;
        if (w != (int)n)
            return -1;
        if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    }
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss) {
            free(pss->body);
            pss->body = NULL;
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols control_protocols[] = {
    {"stt-control", cb_control, sizeof(pss_t), 65536, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};
static const struct lws_protocols data_protocols[] = {
    {"stt-data", cb_data, sizeof(pss_t), 65536, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};
static const struct lws_protocols monitor_protocols[] = {
    {"http", cb_monitor, sizeof(pss_t), 4096, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};

/* ---- model loading ---- */

typedef struct {
    stt_server_t *srv;
} loader_arg_t;

static void *loader_main(void *arg)
{
    stt_server_t *srv = arg;
    double t0 = stt_now_s();
    stt_model_t *m = NULL;
    char err[256] = "";
    int reload = srv->reload_phase != 0;
    if (reload && srv->reload_old) /* the broken one goes first: two large models may not fit */
        srv->engine->unload(srv->reload_old);
    int rc = srv->engine->load(srv->cfg, &m, err, sizeof(err));
    /* Probe twice: the first decode on a cold decoder is several times slower than the rest; the
     * second one decodes one second of audio, and its time is the engine's cost per audio second
     * until calls are measured (published to the loop with the model). */
    if (rc == 0 && srv->engine->probe) {
        double t = 0;
        if (srv->engine->probe(m) == 0 && (t = stt_now_s(), srv->engine->probe(m) == 0)) {
            srv->probe_rtf = stt_now_s() - t;
        } else {
            snprintf(err, sizeof(err), "engine probe failed");
            srv->engine->unload(m);
            rc = STT_EENGINE;
        }
    }
    if (rc != 0 && reload) {
        STT_ERROR(0, "model_reload_failed", "%s", err);
        srv->reload_failed = 1; /* the loop retries at the breaker's next half-open */
    } else if (rc != 0) {
        snprintf(srv->model_error, sizeof(srv->model_error), "%s", err);
        srv->model_state = -1;
    } else {
        STT_INFO(0, "model_loaded", "%s engine loaded in %.2f s (probe: %.3f s per audio s)",
                 srv->engine->name, stt_now_s() - t0, srv->probe_rtf);
        atomic_store(&g_loaded_model, m);
        lws_cancel_service(srv->ctx);
        /* Ready already; now keep a spare decoder per worker and as many again idle, so
         * concurrent calls find one waiting (made in the background, see engine.h). */
        if (srv->engine->prewarm)
            srv->engine->prewarm(m, 2 * srv->n_workers);
        return NULL;
    }
    lws_cancel_service(srv->ctx);
    return NULL;
}

/* ---- tick: signals, model publication, retries, drain ---- */

static void begin_drain(stt_server_t *srv)
{
    srv->draining = 1;
    srv->drain_deadline_s = stt_now_s() + srv->cfg->drain_timeout;
    STT_INFO(0, "drain", "[PRODUCTION] SIGTERM: draining %d sessions (deadline %.0f s)",
             srv->n_sessions, srv->cfg->drain_timeout);
    for (stt_session_t *s = srv->sessions; s; s = s->next) {
        s->drain_close = 1;
        if (stt_session_is_idle(s) && stt_turn_state(s->turn) != STT_TURN_RECORDING)
            stt_session_close(s, 1001, "server shutting down");
    }
}

static void drain_step(stt_server_t *srv, double now)
{
    double started = srv->drain_deadline_s - srv->cfg->drain_timeout;
    for (stt_session_t *s = srv->sessions; s; s = s->next) {
        if (s->closing)
            continue;
        if (now >= srv->drain_deadline_s) {
            stt_session_close(s, 1001, "server shutting down");
        } else if (now - started >= DRAIN_NATURAL_S &&
                   stt_turn_state(s->turn) == STT_TURN_RECORDING) {
            /* The utterance did not end by itself: end it now so its final is delivered; one
             * shorter than min_length_of_recording cannot be stopped and is discarded. */
            if (stt_turn_stop(s->turn) != 0)
                stt_turn_abort(s->turn);
        } else if (stt_session_is_idle(s) &&
                   (s->drain_ignore_audio || stt_turn_state(s->turn) != STT_TURN_RECORDING)) {
            stt_session_close(s, 1001, "server shutting down");
        }
    }
    if (srv->n_sessions == 0) {
        if (srv->ctl_close_s == 0)
            srv->ctl_close_s = now;
        for (stt_ctl_t *c = srv->ctls; c; c = c->next) {
            if (!c->closing) {
                c->closing = 1;
                lws_callback_on_writable(c->wsi);
            }
        }
    }
    /* Control peers that do not answer the close handshake get 1 s, not lws' own timeout. */
    if (srv->n_sessions == 0 && (srv->n_ctls == 0 || now - srv->ctl_close_s >= 1.0))
        srv->stop_loop = 1;
    if (now >= srv->drain_deadline_s + 2.0)
        srv->stop_loop = 1; /* sockets that ignore the close handshake */
}

/* Would n live sessions load the workers past --admission_max_load? Each counts at the
 * engine's measured cost per second of audio times the measured share of sessions talking. */
int stt_load_full(const stt_server_t *srv, int n)
{
    const stt_load_t *l = &srv->load;
    if (!srv->cfg->admission_control || srv->n_workers <= 0 || n <= 0)
        return 0;
    /* The live sessions at their shares; any beyond them (the newcomer) fully. */
    double shares = l->talk_sum + (n > srv->n_sessions ? n - srv->n_sessions : 0);
    return l->rtf * shares / srv->n_workers > srv->cfg->admission_max_load;
}

/* Admission control by measured load: once a second, the pool's cumulative busy and wait times
 * give the workers' utilisation and the mean queue wait over the last second (smoothed). New
 * sessions are refused while either is over its limit, with hysteresis so admission does not
 * flap; live sessions are never cut. Those two only see a call once it talks, so calls that
 * arrive together would all be admitted before the load shows; a third, predictive check
 * refuses a session when the live sessions plus it would exceed the limit at the measured cost
 * of a session (stt_load_full, checked at every connect). While jobs
 * queue, realtime passes are spaced out (pace_s), which trades partial frequency for headroom
 * before anything else degrades. */
static void load_sample(stt_server_t *srv, double now)
{
    stt_load_t *l = &srv->load;
    if (now - l->sample_s < 1.0)
        return;
    stt_pool_stats_t ps;
    stt_pool_stats(srv->pool, &ps);
    double dt = now - l->sample_s;
    if (l->sample_s > 0) {
        double util = (ps.busy_s - l->busy_s) / (dt * (ps.workers > 0 ? ps.workers : 1));
        uint64_t jobs = ps.started - l->started;
        double wait = jobs ? (ps.wait_s - l->wait_s) / (double)jobs : 0.0;
        if (util > 1.0)
            util = 1.0;
        l->utilization = 0.6 * l->utilization + 0.4 * util;
        l->queue_wait = 0.6 * l->queue_wait + 0.4 * wait;
        /* Cost per audio second: over everything decoded so far for the first minute of audio
         * (a moving average from the probe's prior converged too slowly: a 20 s burst at 3x
         * capacity was priced at half its cost and 2x capacity got in), then smoothed. */
        double audio = ps.audio_s - l->audio_s;
        if (ps.audio_s >= 1.0 && ps.audio_s < 60.0)
            l->rtf = ps.busy_s / ps.audio_s;
        else if (audio >= 0.5)
            l->rtf = 0.8 * l->rtf + 0.2 * (ps.busy_s - l->busy_s) / audio;
    }
    l->sample_s = now;
    l->talk_sum = 0;
    for (const stt_session_t *s = srv->sessions; s; s = s->next)
        if (s->wsi)
            l->talk_sum += stt_session_talk_share(s);
    l->audio_s = ps.audio_s;
    l->busy_s = ps.busy_s;
    l->wait_s = ps.wait_s;
    l->started = ps.started;

    const stt_config_t *cfg = srv->cfg;
    int over = cfg->admission_control && (l->utilization > cfg->admission_max_load ||
                                          l->queue_wait > cfg->admission_max_queue_delay ||
                                          stt_load_full(srv, srv->n_sessions + 1));
    int clear = !cfg->admission_control || (l->utilization < 0.8 * cfg->admission_max_load &&
                                            l->queue_wait < 0.5 * cfg->admission_max_queue_delay &&
                                            !stt_load_full(srv, srv->n_sessions + 1));
    if (!l->overloaded && over) {
        l->overloaded = 1;
        STT_WARN(0, "overload",
                 "[PRODUCTION] engine overloaded (load %.2f, queue wait %.3f s): "
                 "refusing new sessions",
                 l->utilization, l->queue_wait);
    } else if (l->overloaded && clear) {
        l->overloaded = 0;
        STT_INFO(0, "overload_cleared", "[PRODUCTION] engine load back to %.2f: admitting",
                 l->utilization);
    }
    l->pace_s = l->queue_wait > 0.05 ? (4 * l->queue_wait > 1.0 ? 1.0 : 4 * l->queue_wait) : 0;
}

/* ---- watchdog and resource cleanup ---- */

static void watchdog_step(stt_server_t *srv, double now)
{
    stt_job_t *expired[64], *retired[64];
    size_t nr = 0;
    size_t n = stt_pool_watchdog(srv->pool, now, WATCHDOG_GRACE_S, expired, 64, retired, &nr);
    for (size_t i = 0; i < n; i++) {
        if (expired[i]->kind == STT_JOB_PROBE)
            STT_WARN(0, "engine_timeout", "engine probe ran past %.1f s", expired[i]->timeout_s);
        else
            stt_session_on_job_timeout(expired[i]);
    }
    for (size_t i = 0; i < nr; i++)
        if (retired[i]->kind != STT_JOB_PROBE)
            stt_session_on_job_retired(retired[i]);
}

/* A peer that stopped reading: its queued output has not moved for --stuck_socket_timeout. */
static int out_stuck(const stt_config_t *cfg, stt_outq_t *q, double *moved_s, uint64_t *last,
                     double now)
{
    if (!q->head || q->sent != *last || *moved_s == 0) {
        *moved_s = now;
        *last = q->sent;
        return 0;
    }
    return cfg->stuck_socket_timeout > 0 && now - *moved_s > cfg->stuck_socket_timeout;
}

void stt_server_drop_stuck(stt_server_t *srv, struct lws *wsi, uint64_t id, stt_outq_t *q,
                           int cap_hit)
{
    size_t queued = q->bytes;
    stt_outq_clear(q);
    srv->m.sockets_stuck++;
    if (cap_hit)
        STT_WARN(id, "stuck_socket", "peer is not reading: its output queue reached %zu bytes "
                 "(cap %zu); dropping it", queued, STT_OUTQ_MAX_BYTES);
    else
        STT_WARN(id, "stuck_socket", "peer read nothing for %.0f s (%zu bytes queued); "
                 "dropping it", srv->cfg->stuck_socket_timeout, queued);
    lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

/* Idle timeout, maximum session duration and stuck sockets, once a second. */
static void cleanup_step(stt_server_t *srv, double now)
{
    const stt_config_t *cfg = srv->cfg;
    for (stt_session_t *s = srv->sessions; s; s = s->next) {
        if (!s->wsi)
            continue;
        if (out_stuck(cfg, &s->out, &s->out_moved_s, &s->out_last_sent, now)) {
            stt_session_drop_stuck(s, 0);
            s->out_moved_s = now; /* once */
            continue;
        }
        if (s->closing || srv->draining)
            continue;
        if (cfg->idle_timeout > 0 && now - s->last_audio_s > cfg->idle_timeout) {
            char why[80];
            snprintf(why, sizeof(why), "idle timeout: no audio for %.0f s", cfg->idle_timeout);
            srv->m.sessions_closed_idle++;
            STT_INFO(s->id, "idle_timeout", "%s", why);
            stt_session_close(s, 1000, why);
            continue;
        }
        double age = now - s->opened_s;
        if (cfg->max_session_duration <= 0 || age < cfg->max_session_duration)
            continue;
        if (!s->max_duration_hit) {
            /* End the recording so its final is delivered, then ignore further audio. */
            s->max_duration_hit = 1;
            s->drain_ignore_audio = 1;
            if (stt_turn_state(s->turn) == STT_TURN_RECORDING && stt_turn_stop(s->turn) != 0)
                stt_turn_abort(s->turn);
            STT_INFO(s->id, "max_duration", "session reached %.0f s: closing after its last final",
                     cfg->max_session_duration);
        }
        if (stt_session_is_idle(s) || age > cfg->max_session_duration + MAX_DURATION_GRACE_S) {
            srv->m.sessions_closed_max_duration++;
            stt_session_close(s, 1000, "maximum session duration reached");
        }
    }
    for (stt_ctl_t *c = srv->ctls; c; c = c->next) {
        if (out_stuck(cfg, &c->out, &c->out_moved_s, &c->out_last_sent, now)) {
            c->closing = 1; /* counted once */
            stt_server_drop_stuck(srv, c->wsi, 0, &c->out, 0);
            c->out_moved_s = now;
        }
    }
}

/* Every --consistency_check_interval: what the loop believes against what the pool, the engine
 * and the kernel say. A mismatch is logged and counted; more decoding states in use than
 * utterances and jobs can hold, twice in a row, is a leak inside the engine: every worker
 * recreates its engine state (which frees what that state leaked). */
static void consistency_step(stt_server_t *srv, double now)
{
    if (srv->cfg->consistency_check_interval <= 0 || now < srv->next_consistency_s || !srv->model)
        return;
    srv->next_consistency_s = now + srv->cfg->consistency_check_interval;
    drain_done_jobs(srv); /* jobs in the done list are with neither side */
    int sessions = 0, ctls = 0, bad = 0;
    long handles = 0;
    for (stt_session_t *s = srv->sessions; s; s = s->next) {
        sessions++;
        handles += s->cur && s->cur->handle;
        for (stt_uttstate_t *u = s->finishing; u; u = u->next)
            handles += u->handle != NULL;
    }
    for (stt_ctl_t *c = srv->ctls; c; c = c->next)
        ctls++;
    stt_pool_stats_t ps;
    stt_pool_stats(srv->pool, &ps);
    int64_t pool_out = (int64_t)(ps.submitted - ps.handed_back);
    /* busy includes retired workers still inside their job */
    int64_t pool_seen = (int64_t)ps.queued_final + (int64_t)ps.queued_feed + ps.busy +
                        (int64_t)ps.done_waiting;
    int fds = stt_open_fds(), fd_limit = srv->base_fds + srv->n_sessions + srv->n_ctls + FD_SLACK;
    if (sessions != srv->n_sessions || ctls != srv->n_ctls) {
        STT_ERROR(0, "consistency", "session list holds %d data and %d control connections; "
                  "gauges say %d and %d", sessions, ctls, srv->n_sessions, srv->n_ctls);
        bad++;
    }
    if (pool_out != srv->jobs_in_flight || pool_seen != pool_out) {
        STT_ERROR(0, "consistency", "jobs: the loop counts %lld in flight, the pool %lld handed "
                  "out and %lld queued, running or done", (long long)srv->jobs_in_flight,
                  (long long)pool_out, (long long)pool_seen);
        bad++;
    }
    if (srv->base_fds > 0 && fds > fd_limit) {
        STT_ERROR(0, "consistency", "%d fds open; expected at most %d (%d at start, %d "
                  "connections)", fds, fd_limit, srv->base_fds, srv->n_sessions + srv->n_ctls);
        bad++;
    }
    if (srv->engine->leases_per_utterance && ps.decoders_in_use > handles + srv->jobs_in_flight) {
        if (++srv->leak_suspect >= 2) {
            STT_ERROR(0, "consistency", "the engine holds %d decoding states; utterances and "
                      "jobs account for %ld: recreating every worker's engine state",
                      ps.decoders_in_use, handles + (long)srv->jobs_in_flight);
            stt_pool_reset_workers(srv->pool);
            srv->leak_suspect = 0;
            bad++;
        }
    } else {
        srv->leak_suspect = 0;
    }
    srv->m.consistency_errors += (uint64_t)bad;
    /* Hand freed heap pages back to the kernel: after a burst of calls glibc keeps them (RSS
     * stayed 20-40 % above its baseline after 1,000 short calls on the null engine), so
     * memory would only ever ratchet up to the busiest moment. */
    malloc_trim(0);
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
    stt_server_t *srv = lws_container_of(sul, stt_server_t, tick);
    double now = stt_now_s();
    if (!srv->model) {
        stt_model_t *m = atomic_load(&g_loaded_model);
        if (m) {
            srv->model = m;
            srv->load.rtf = srv->probe_rtf;
            stt_pool_set_model(srv->pool, m);
            if (srv->reload_phase) {
                reload_done(srv);
            } else {
                srv->base_fds = stt_open_fds();
                srv->next_consistency_s = now + srv->cfg->consistency_check_interval;
                STT_INFO(0, "ready", "[PRODUCTION] Server ready (start to ready %.2f s)",
                         now - srv->started_s);
            }
        } else if (srv->model_state < 0) {
            STT_ERROR(0, "model_failed", "%s", srv->model_error);
            srv->stop_loop = 2;
        }
    }
    if (srv->model) {
        int second = now - srv->load.sample_s >= 1.0;
        load_sample(srv, now);
        watchdog_step(srv, now);
        if (second)
            cleanup_step(srv, now);
        consistency_step(srv, now);
    }
    if (srv->breaker.state == STT_BREAKER_OPEN && now >= srv->breaker.retry_at_s)
        breaker_timer_cb(&srv->breaker_sul);
    if (srv->reload_phase)
        reload_step(srv);
    if (g_signal && !srv->draining)
        begin_drain(srv);
    drain_done_jobs(srv);
    for (stt_session_t *s = srv->sessions; s; s = s->next)
        stt_session_tick(s, now);
    if (srv->draining)
        drain_step(srv, now);
    lws_sul_schedule(srv->ctx, 0, &srv->tick, tick_cb, TICK_US);
}

/* ---- lifecycle ---- */

static struct lws_vhost *make_vhost(stt_server_t *srv, const char *name, int port,
                                    const struct lws_protocols *protocols)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.vhost_name = name;
    info.port = port;
    info.iface = srv->cfg->host && srv->cfg->host[0] ? srv->cfg->host : NULL;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.keepalive_timeout = 5;
    struct lws_vhost *vh = lws_create_vhost(srv->ctx, &info);
    if (!vh)
        STT_ERROR(0, "listen_failed", "cannot listen on %s:%d (%s)", info.iface ? info.iface : "*",
                  port, name);
    return vh;
}

int stt_server_run(stt_config_t *cfg, const stt_engine_vtable_t *engine, int workers)
{
    stt_server_t *srv = stt_calloc(1, sizeof(*srv));
    struct ev_loop *evl = NULL; /* --event_loop libev */
    int rc = 1;
    srv->cfg = cfg;
    srv->engine = engine;
    srv->n_workers = workers;
    srv->started_s = stt_now_s();
    srv->started_epoch = (double)time(NULL);
    stt_breaker_config_t bc = {(int)cfg->breaker_failures, cfg->breaker_failure_rate,
                               cfg->breaker_window,        (int)cfg->breaker_min_jobs,
                               cfg->breaker_backoff,       cfg->breaker_backoff_max,
                               (int)cfg->breaker_probes};
    stt_breaker_init(&srv->breaker, &bc, (uint32_t)time(NULL) ^ (uint32_t)getpid());

    lws_set_log_level(
        cfg->debug_websockets ? (LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO) : LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.user = srv;
    info.count_threads = 1;
    info.fd_limit_per_thread = 0;
    void *foreign[1];
    if (strcmp(cfg->event_loop, "libev") == 0) {
        /* lws on our libev loop (epoll), run one iteration at a time like lws_service(). */
        evl = ev_loop_new(EVFLAG_AUTO);
        if (!evl) {
            STT_ERROR(0, "event_loop", "cannot create the libev loop");
            goto fail_ctx;
        }
        foreign[0] = evl;
        info.foreign_loops = foreign;
        info.options |= LWS_SERVER_OPTION_LIBEV;
        info.signal_cb = on_lws_signal;
    }
    srv->ctx = lws_create_context(&info);
    if (!srv->ctx) {
        STT_ERROR(0, "lws", "cannot create the websocket context");
        goto fail_ctx;
    }
    if (!make_vhost(srv, "control", (int)cfg->control_port, control_protocols) ||
        !make_vhost(srv, "data", (int)cfg->data_port, data_protocols) ||
        !make_vhost(srv, "monitor", (int)cfg->monitor_port, monitor_protocols))
        goto fail_vhost;

    srv->pool = stt_pool_create(engine, workers, wakeup_loop, srv);
    stt_pool_set_slice(srv->pool, (size_t)(cfg->engine_slice * 16000.0 + 0.5));
    stt_pool_set_batched(srv->pool, 1);
    pthread_t loader;
    if (pthread_create(&loader, NULL, loader_main, srv) != 0)
        stt_fatal(__FILE__, __LINE__, "pthread_create failed");

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *h = cfg->host && cfg->host[0] ? cfg->host : "0.0.0.0";
    STT_INFO(0, "start",
             "[PRODUCTION] stt-server %s starting: control ws://%s:%lld data ws://%s:%lld "
             "monitoring http://%s:%lld engine=%s workers=%d",
             STT_VERSION, h, (long long)cfg->control_port, h, (long long)cfg->data_port, h,
             (long long)cfg->monitor_port, engine->name, workers);

    lws_sul_schedule(srv->ctx, 0, &srv->tick, tick_cb, TICK_US);
    while (!srv->stop_loop) {
        if (evl)
            ev_run(evl, EVRUN_ONCE);
        else if (lws_service(srv->ctx, 0) < 0)
            break;
        stt_pool_flush(srv->pool); /* the jobs this pass submitted, handed over together */
    }

    pthread_join(loader, NULL);
    if (srv->reload_phase == 2)
        pthread_join(srv->reload_thread, NULL);
    rc = srv->stop_loop == 2 ? 1 : 0;
    lws_sul_cancel(&srv->tick);
    lws_sul_cancel(&srv->breaker_sul);
    /* Workers must stop waking the loop before the context goes (a wakeup on a destroyed
     * context crashed a shutdown under overload). Destroying the context closes every socket
     * (CLOSED callbacks detach sessions); jobs still queued belong to closed sessions and are
     * cancelled rather than decoded, the running ones finish, and everything that comes back is
     * drained and freed (cancelled utterances release their decoders through ABORT jobs, run
     * inline once the pool has stopped). */
    stt_pool_disable_wakeup(srv->pool);
    lws_context_destroy(srv->ctx);
    srv->ctx = NULL;
    size_t cancelled = stt_pool_cancel_queued(srv->pool);
    if (cancelled)
        STT_INFO(0, "stop", "cancelled %zu queued engine jobs of closed sessions", cancelled);
    stt_pool_stop(srv->pool);
    while (stt_pool_dispatch_done(srv->pool) > 0) /* jobs may submit ABORTs, run inline now */
        ;
    stt_model_t *m = atomic_load(&g_loaded_model);
    if (stt_pool_destroy(srv->pool) == 0 && m)
        engine->unload(m); /* not while a stuck worker may still be inside it */
    STT_INFO(0, "stop", "[PRODUCTION] stt-server stopped (exit %d)", rc);
    if (evl)
        ev_loop_destroy(evl);
    free(srv);
    return rc;

fail_vhost:
    lws_context_destroy(srv->ctx);
fail_ctx:
    if (evl)
        ev_loop_destroy(evl);
    free(srv);
    return 1;
}
