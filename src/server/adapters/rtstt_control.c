/* The RealtimeSTT control adapter (spec section 2): set_parameter, get_parameter, call_method.
 *
 * Threads: the loop thread only. A control connection acts on its paired data session (see
 * rtstt.h for pairing); parameters set before a session is paired are kept in the connection's
 * overlay and applied when one pairs. Every request gets exactly one response, also before the
 * engine has loaded. Responses are printed the way Python's json.dumps prints them (", " and ": "
 * separators, ASCII-escaped strings, floats with a decimal point) so byte-level comparisons with
 * the original hold. */
#include "rtstt.h"

#include "stt/clock.h"
#include "stt/error.h"

#include "stt/log.h"
#include "stt/pyfmt.h"
#include "stt/text.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* One key of a reply; the writer is stt_pyfmt_json_object(). */
typedef stt_pyfmt_kv_t kv_t;

static void ctl_send(rtstt_ctl_t *c, const kv_t *kv, size_t n)
{
    stt_sbuf_t b = {0};
    stt_pyfmt_json_object(&b, kv, n);
    stt_conn_send(c->conn, 0, b.buf, b.len);
    stt_sbuf_dispose(&b);
}

static void reply_status(rtstt_ctl_t *c, const char *status, const char *message)
{
    cJSON *st = cJSON_CreateString(status), *msg = cJSON_CreateString(message);
    kv_t kv[] = {{"status", st, 0}, {"message", msg, 0}};
    ctl_send(c, kv, 2);
    cJSON_Delete(st);
    cJSON_Delete(msg);
}

static void reply_error(rtstt_ctl_t *c, const char *fmt, const char *arg, const char *suffix)
{
    char msg[512];
    snprintf(msg, sizeof(msg), fmt, arg, suffix);
    reply_status(c, "error", msg);
}

/* ---- parameters ---- */

/* State parameters of the original's whitelist that are read-only here. */
static const char *const state_params[] = {"listen_start",
                                           "recording_stop_time",
                                           "last_transcription_bytes",
                                           "last_transcription_bytes_b64",
                                           "speech_end_silence_start",
                                           "is_recording",
                                           "use_wake_words",
                                           NULL};

static int is_state_param(const char *p)
{
    for (int i = 0; state_params[i]; i++)
        if (strcmp(state_params[i], p) == 0)
            return 1;
    return 0;
}

static cJSON *last_audio_b64(const rtstt_t *s)
{
    if (!s || !s->last_utt)
        return cJSON_CreateNull();
    size_t nbytes = s->last_utt_n * 4;
    uint8_t *f = stt_malloc(nbytes + 1);
    for (size_t i = 0; i < s->last_utt_n; i++) {
        float v = (float)s->last_utt[i] / 32768.0f;
        memcpy(f + 4 * i, &v, 4);
    }
    char *b64 = stt_malloc(stt_base64_encoded_len(nbytes) + 1);
    stt_base64_encode(f, nbytes, b64);
    cJSON *r = cJSON_CreateString(b64);
    free(b64);
    free(f);
    return r;
}

/* Returns a new value for a state parameter; *as_float says how to print numbers. */
static cJSON *state_value(const rtstt_t *s, const char *p, int *as_float)
{
    *as_float = 1;
    int recording = s && s->stream && stt_stream_recording(s->stream);
    if (strcmp(p, "listen_start") == 0)
        return cJSON_CreateNumber(s && !recording ? s->listen_start_epoch : 0.0);
    if (strcmp(p, "recording_stop_time") == 0)
        return cJSON_CreateNumber(s ? s->recording_stop_epoch : 0.0);
    if (strcmp(p, "speech_end_silence_start") == 0)
        return cJSON_CreateNumber(s ? s->speech_end_silence_epoch : 0.0);
    *as_float = 0;
    if (strcmp(p, "is_recording") == 0)
        return cJSON_CreateBool(recording);
    if (strcmp(p, "use_wake_words") == 0)
        return cJSON_CreateBool(0);
    return last_audio_b64(s); /* last_transcription_bytes[_b64] */
}

static stt_session_params_t *ctl_params(rtstt_ctl_t *c)
{
    return c->session ? &c->session->params : &c->overlay;
}

static void do_set(rtstt_ctl_t *c, const cJSON *req)
{
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(req, "parameter");
    const char *p = cJSON_IsString(jp) ? jp->valuestring : "None";
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(req, "value");
    const stt_option_t *opt = stt_config_find(p);
    if (is_state_param(p)) {
        reply_error(c, "Parameter %s is read-only%s", p, " (set_parameter)");
        return;
    }
    if (!opt || opt->scope != STT_SCOPE_SESSION) {
        reply_error(c, "Parameter %s is not allowed%s", p, " (set_parameter)");
        return;
    }
    char err[256];
    if (stt_session_param_set_json(ctl_params(c), opt, value, err, sizeof(err)) != 0) {
        reply_status(c, "error", err);
        return;
    }
    if (c->session) {
        rtstt_params_changed(c->session);
    } else {
        c->overlay_set = 1;
    }
    stt_sbuf_t vstr = {0};
    char msg[512];
    /* The value is stored as the option's type: a float option prints as a Python float
     * ("2.0"), since cJSON cannot tell whether the client wrote 2 or 2.0. */
    if (opt->type == STT_OPT_FLOAT && cJSON_IsNumber(value))
        stt_pyfmt_json_float(&vstr, value->valuedouble);
    else
        stt_pyfmt_str(&vstr, value);
    snprintf(msg, sizeof(msg), "Parameter %s set to %s", p, vstr.buf);
    reply_status(c, "success", msg);
    STT_INFO(c->session ? c->session->id : 0, "set_parameter", "%s = %s", p, vstr.buf);
    stt_sbuf_dispose(&vstr);
}

static void do_get(rtstt_ctl_t *c, const cJSON *req)
{
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(req, "parameter");
    const char *p = cJSON_IsString(jp) ? jp->valuestring : "None";
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(req, "request_id");
    cJSON *value = NULL;
    int as_float = 0;
    if (is_state_param(p)) {
        value = state_value(c->session, p, &as_float);
    } else {
        const stt_option_t *opt = stt_config_find(p);
        if (opt && opt->scope == STT_SCOPE_SESSION) {
            value = stt_session_param_get_json(ctl_params(c), opt);
            as_float = opt->type == STT_OPT_FLOAT;
        }
    }
    if (!value) {
        reply_error(c, "Parameter %s is not allowed%s", p, " (get_parameter)");
        return;
    }
    cJSON *st = cJSON_CreateString("success"), *pn = cJSON_CreateString(p);
    kv_t kv[4] = {{"status", st, 0}, {"parameter", pn, 0}, {"value", value, as_float}};
    size_t n = 3;
    if (rid)
        kv[n++] = (kv_t){"request_id", rid, 0};
    ctl_send(c, kv, n);
    cJSON_Delete(st);
    cJSON_Delete(pn);
    cJSON_Delete(value);
}

/* call_method "fault" (kwargs fail_rate, hang_rate, hang_s, slow_factor, fail_next, hang_next,
 * crash_next, leak_next, hang_uncancellable, break_model): changes the fault engine's settings live. Only
 * with --engine fault --fault_injection (a test tool). */
static void do_fault(rtstt_ctl_t *c, const cJSON *req)
{
    if (!c->env->cfg->fault_injection || strcmp(c->env->rec->engine->name, "fault") != 0) {
        reply_status(c, "error", "Method fault needs --engine fault --fault_injection");
        return;
    }
    stt_fault_params_t p;
    stt_fault_get(&p);
    const cJSON *kw = cJSON_GetObjectItemCaseSensitive(req, "kwargs");
    struct {
        const char *name;
        double *d;
        int *i;
        double lo, hi;
    } f[] = {{"fail_rate", &p.fail_rate, NULL, 0, 1},
             {"hang_rate", &p.hang_rate, NULL, 0, 1},
             {"hang_s", &p.hang_s, NULL, 0, 3600},
             {"slow_factor", &p.slow_factor, NULL, 1, 100},
             {"fail_next", NULL, &p.fail_next, 0, 1000000},
             {"hang_next", NULL, &p.hang_next, 0, 1000000},
             {"crash_next", NULL, &p.crash_next, 0, 1000000},
             {"leak_next", NULL, &p.leak_next, 0, 1000000},
             {"hang_uncancellable", NULL, &p.hang_uncancellable, 0, 1},
             {"break_model", NULL, &p.break_model, 0, 1}};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(kw, f[i].name);
        if (!v)
            continue;
        if (!cJSON_IsNumber(v) || v->valuedouble < f[i].lo || v->valuedouble > f[i].hi ||
            (f[i].i && v->valuedouble != (double)(int)v->valuedouble)) {
            char msg[128];
            snprintf(msg, sizeof(msg), "fault: %s must be %s in %g..%g", f[i].name,
                     f[i].i ? "an integer" : "a number", f[i].lo, f[i].hi);
            reply_status(c, "error", msg);
            return;
        }
        if (f[i].d)
            *f[i].d = v->valuedouble;
        else
            *f[i].i = (int)v->valuedouble;
    }
    stt_fault_set(&p);
    char msg[300];
    snprintf(msg, sizeof(msg),
             "Method fault called: fail_rate %g, hang_rate %g, hang_s %g, slow_factor %g, "
             "fail_next %d, hang_next %d, crash_next %d, leak_next %d, hang_uncancellable %d, "
             "break_model %d",
             p.fail_rate, p.hang_rate, p.hang_s, p.slow_factor, p.fail_next, p.hang_next,
             p.crash_next, p.leak_next, p.hang_uncancellable, p.break_model);
    STT_WARN(0, "fault_injection", "%s", msg);
    reply_status(c, "success", msg);
}

static void do_call(rtstt_ctl_t *c, const cJSON *req)
{
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(req, "method");
    const char *m = cJSON_IsString(jm) ? jm->valuestring : "None";
    rtstt_t *s = c->session;
    char msg[256];
    if (strcmp(m, "stop") == 0) {
        if (s)
            stt_stream_finalize(s->stream, 0);
    } else if (strcmp(m, "abort") == 0) {
        if (s)
            stt_stream_abort(s->stream);
    } else if (strcmp(m, "clear_audio_queue") == 0) {
        if (s)
            stt_stream_clear(s->stream);
    } else if (strcmp(m, "fault") == 0) {
        do_fault(c, req);
        return;
    } else if (strcmp(m, "wakeup") == 0 || strcmp(m, "set_microphone") == 0) {
        /* wakeup restarts the wake-word window and set_microphone toggles a microphone the
         * server does not have: both are accepted no-ops, as in the original server. */
        if (s && strcmp(m, "wakeup") == 0)
            s->listen_start_epoch = (double)time(NULL);
    } else {
        /* shutdown and text are remotely dangerous in the original and refused here. */
        snprintf(msg, sizeof(msg), "Method %s is not allowed", m);
        reply_status(c, "error", msg);
        return;
    }
    snprintf(msg, sizeof(msg), "Method %s called", m);
    reply_status(c, "success", msg);
    STT_INFO(s ? s->id : 0, "call_method", "%s%s", m, s ? "" : " (no data session paired)");
}

void rtstt_ctl_on_message(rtstt_ctl_t *c, const char *msg, size_t len)
{
    cJSON *req = cJSON_ParseWithLength(msg, len);
    if (!req || !cJSON_IsObject(req)) {
        cJSON_Delete(req);
        reply_status(c, "error", "Invalid JSON command");
        return;
    }
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(req, "command");
    const char *cmd = cJSON_IsString(jc) ? jc->valuestring : "None";
    if (strcmp(cmd, "set_parameter") == 0)
        do_set(c, req);
    else if (strcmp(cmd, "get_parameter") == 0)
        do_get(c, req);
    else if (strcmp(cmd, "call_method") == 0)
        do_call(c, req);
    else
        reply_error(c, "Unknown command %s%s", cmd, "");
    cJSON_Delete(req);
}

/* ---- the adapter ---- */

static int ctl_open(const stt_adapter_env_t *env, stt_conn_t *conn, const stt_request_t *req,
                    void **state)
{
    rtstt_ctl_t *c = stt_calloc(1, sizeof(*c));
    stt_list_init(&c->link);
    c->conn = conn;
    c->env = env;
    c->opened_s = stt_now_s();
    c->overlay = env->cfg->sess;
    stt_conn_set_max_message(conn, 65536); /* control messages are small JSON objects */
    stt_conn_set_accept(conn, STT_CONN_ACCEPT_TEXT); /* binary frames are ignored, as before */
    env->rec->m.control_total++;
    *state = c;
    STT_INFO(0, "control_connected", "[PRODUCTION] Control client connected from %s%s%s",
             req->ip, req->name[0] ? " session=" : "", req->name);
    rtstt_pair_ctl(c);
    return 0;
}

static int ctl_on_message(void *state, int binary, const uint8_t *buf, size_t len)
{
    rtstt_ctl_t *c = state;
    rtstt_ctl_on_message(c, (const char *)buf, len);
    return 0;
}

static void ctl_on_oversize(void *state, size_t bytes, size_t max)
{
    rtstt_ctl_t *c = state;
    stt_conn_close(c->conn, STT_CLOSE_TOO_BIG, "control message too large");
}

static void ctl_closed(void *state)
{
    rtstt_ctl_t *c = state;
    STT_INFO(0, "control_closed", "Control client disconnected (%s)", stt_conn_ip(c->conn));
    rtstt_unpair_ctl(c);
    free(c);
}

const stt_adapter_t stt_adapter_rtstt_control = {
    .name = "realtimestt-control",
    .transport = STT_TRANSPORT_WS,
    .counts_as_call = 0,
    .open = ctl_open,
    .on_message = ctl_on_message,
    .on_oversize = ctl_on_oversize,
    .on_closed = ctl_closed,
};
