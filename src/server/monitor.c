/* Monitoring endpoints: /health (the seed's JSON), /livez, /readyz, /metrics (JSON, or
 * Prometheus text format 0.0.4 when the scraper asks for it).
 *
 * Threads: the loop thread only (the pool's gauges are read under its own lock). Bodies are
 * built into a heap buffer owned by the caller. */
#include "monitor.h"
#include "sinks/calls.h"

#include "stt/clock.h"

#include "stt/log.h"
#include "stt/rtstt_frame.h"

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int server_ready(const stt_server_t *srv)
{
    return stt_recognizer_ready(srv->rec) && !srv->draining;
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

int stt_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", "..", and the DIR's own fd */
}

static uint64_t conns_last_minute(const stt_server_t *srv)
{
    int64_t now = (int64_t)time(NULL);
    uint64_t n = 0;
    for (int i = 0; i < 60; i++)
        if (now - srv->rec->m.conn_minute_sec[i] < 60)
            n += srv->rec->m.conn_minute[i];
    return n;
}

static const char *recorder_state(const stt_server_t *srv)
{
    if (srv->rec->model_state < 0)
        return "error";
    if (srv->rec->reload_phase)
        return "reloading_model";
    if (!srv->rec->model)
        return "initializing";
    if (srv->draining)
        return "draining";
    if (srv->rec->breaker.state == STT_BREAKER_OPEN)
        return "engine_unavailable";
    if (srv->rec->breaker.state == STT_BREAKER_HALF_OPEN)
        return "recovering";
    return "ready";
}

/* Healthy: serving (model loaded, not draining). A server that admits no new sessions, for load
 * or because its circuit breaker is open, is "degraded": alive, keeping its calls (and their
 * audio), recovering by itself. */
static int healthy(const stt_server_t *srv)
{
    return srv->rec->model != NULL && !srv->draining;
}

static const char *health_status(const stt_server_t *srv)
{
    if (!healthy(srv))
        return "unhealthy";
    return srv->rec->load.overloaded || srv->rec->breaker.state != STT_BREAKER_CLOSED ? "degraded"
                                                                            : "healthy";
}

/* Self-healing can still bring the engine back: the model loaded (and, after a failed reload,
 * is being loaded again) and fewer workers are stuck in engine calls that never returned than
 * are serving. */
static int can_recover(const stt_server_t *srv, const stt_pool_stats_t *ps)
{
    int model_gone = !srv->rec->model && !srv->rec->reload_phase && srv->rec->m.model_reload_failures > 0;
    return srv->rec->model_state >= 0 && !model_gone && ps->retired_running < ps->workers;
}

static char *health_json(stt_server_t *srv)
{
    const stt_metrics_t *m = &srv->rec->m;
    double now = stt_now_s();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", health_status(srv));
    cJSON_AddStringToObject(o, "recorder_state", recorder_state(srv));
    cJSON_AddNumberToObject(o, "uptime_seconds", now - srv->started_s);
    cJSON_AddNumberToObject(o, "active_connections", srv->n_calls + srv->n_other);
    cJSON_AddNumberToObject(o, "total_connections", (double)(m->sessions_total + m->control_total));
    cJSON_AddNumberToObject(o, "connections_per_minute", (double)conns_last_minute(srv));
    cJSON_AddNumberToObject(o, "audio_chunks_processed", (double)m->frames_total);
    cJSON_AddNumberToObject(o, "transcription_errors", (double)m->transcription_errors);
    cJSON_AddNumberToObject(o, "recorder_errors", (double)m->recorder_errors);
    cJSON_AddNumberToObject(o, "last_activity_seconds",
                            now - (m->last_activity_s > 0 ? m->last_activity_s : srv->started_s));
    cJSON_AddNumberToObject(o, "consecutive_errors", (double)m->consecutive_errors);
    cJSON_AddNumberToObject(o, "recovery_attempts", (double)m->recovery_attempts);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static void add_hist_json(cJSON *parent, const char *name, const stt_hist_t *h)
{
    cJSON *o = cJSON_AddObjectToObject(parent, name);
    cJSON_AddNumberToObject(o, "count", (double)h->count);
    cJSON_AddNumberToObject(o, "sum_seconds", h->sum);
    cJSON_AddNumberToObject(o, "p50_seconds", stt_hist_quantile(h, 0.5));
    cJSON_AddNumberToObject(o, "p95_seconds", stt_hist_quantile(h, 0.95));
    cJSON_AddNumberToObject(o, "p99_seconds", stt_hist_quantile(h, 0.99));
}

/* The seed's float fields are Python floats (uptime rounded to 2 decimals, time.time() stamps),
 * which json.dumps writes with a decimal point even when whole; cJSON would write 3.0 as the
 * integer 3, which a Python client reads as an int. So they are written as raw text. */
static void add_float_json(cJSON *o, const char *name, double v, int decimals)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%.*f", decimals, isfinite(v) ? v : 0.0);
    cJSON_AddRawToObject(o, name, buf);
}

/* A monotonic stt_now_s() time as seconds since the epoch, on the base of start_time (and of
 * process_start_time_seconds), so that stamp - start_time is exact whatever the wall clock
 * did since. */
static double mono_to_epoch(const stt_server_t *srv, double t)
{
    return srv->started_epoch + (t - srv->started_s);
}

/* The seed's RecorderState values (initializing, ready, processing, error, recovering,
 * shutdown) for our richer recorder_state(): an open circuit breaker is the seed's "error"
 * (failures in a row past its threshold, recovery pending), a model reload and the half-open
 * probes are "recovering", draining is "shutdown", and "ready" with engine jobs in flight is
 * "processing". */
static const char *seed_recorder_state(const stt_server_t *srv)
{
    static const struct {
        const char *ours, *seed;
    } map[] = {
        {"error", "error"},
        {"reloading_model", "recovering"},
        {"initializing", "initializing"},
        {"draining", "shutdown"},
        {"engine_unavailable", "error"},
        {"recovering", "recovering"},
    };
    const char *ours = recorder_state(srv);
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(ours, map[i].ours) == 0)
            return map[i].seed;
    return srv->rec->jobs_in_flight > 0 ? "processing" : "ready";
}

/* The seed's "connections" group (active, total, rate_per_minute: data connections, the calls)
 * with ours beside it: the counts that include control connections are active_all and
 * total_all. */
static void add_connections_json(cJSON *o, const stt_server_t *srv)
{
    const stt_metrics_t *m = &srv->rec->m;
    uint64_t last_minute = conns_last_minute(srv);
    cJSON *c = cJSON_AddObjectToObject(o, "connections");
    cJSON_AddNumberToObject(c, "active", srv->n_calls);
    cJSON_AddNumberToObject(c, "total", (double)m->sessions_total);
    add_float_json(c, "rate_per_minute", (double)last_minute, 2);
    cJSON_AddNumberToObject(c, "data_active", srv->n_calls);
    cJSON_AddNumberToObject(c, "control_active", srv->n_other);
    cJSON_AddNumberToObject(c, "control_total", (double)m->control_total);
    cJSON_AddNumberToObject(c, "active_all", srv->n_calls + srv->n_other);
    cJSON_AddNumberToObject(c, "total_all", (double)(m->sessions_total + m->control_total));
    cJSON_AddNumberToObject(c, "per_minute", (double)last_minute);
    cJSON_AddNumberToObject(c, "rejected",
                            (double)(m->sessions_rejected_capacity + m->sessions_rejected_draining +
                                     m->sessions_rejected_overload));
}

/* The seed's "server", "processing" and "recorder" groups, key for key and type for type
 * (docs/operations.md, "Metrics JSON"). Before the first audio frame last_activity is the start,
 * and before the first successful engine job last_successful_processing is, as in the seed. */
static void add_seed_groups_json(cJSON *o, const stt_server_t *srv, const stt_pool_stats_t *ps)
{
    const stt_metrics_t *m = &srv->rec->m;
    double now = stt_now_s();
    cJSON *sv = cJSON_AddObjectToObject(o, "server");
    add_float_json(sv, "uptime_seconds", now - srv->started_s, 2);
    add_float_json(sv, "start_time", srv->started_epoch, 6);
    add_float_json(sv, "last_activity",
                   mono_to_epoch(srv, m->last_activity_s > 0 ? m->last_activity_s
                                                             : srv->started_s), 6);
    add_connections_json(o, srv);
    cJSON *pr = cJSON_AddObjectToObject(o, "processing");
    cJSON_AddNumberToObject(pr, "audio_chunks_processed", (double)m->frames_total);
    cJSON_AddNumberToObject(pr, "transcription_errors", (double)m->transcription_errors);
    cJSON_AddNumberToObject(pr, "recorder_errors", (double)m->recorder_errors);
    cJSON *rc = cJSON_AddObjectToObject(o, "recorder");
    cJSON_AddStringToObject(rc, "state", seed_recorder_state(srv));
    add_float_json(rc, "last_successful_processing",
                   mono_to_epoch(srv, m->last_success_s > 0 ? m->last_success_s
                                                            : srv->started_s), 6);
    cJSON_AddNumberToObject(rc, "consecutive_errors", (double)m->consecutive_errors);
    cJSON_AddNumberToObject(rc, "recovery_attempts", (double)m->recovery_attempts);
    cJSON_AddBoolToObject(rc, "can_recover", can_recover(srv, ps));
}

static char *metrics_json(stt_server_t *srv)
{
    const stt_metrics_t *m = &srv->rec->m;
    stt_pool_stats_t ps;
    stt_pool_stats(srv->rec->pool, &ps);
    cJSON *o = cJSON_CreateObject();
    add_seed_groups_json(o, srv, &ps);
    cJSON_AddNumberToObject(o, "uptime_seconds", stt_now_s() - srv->started_s);
    cJSON_AddStringToObject(o, "status", health_status(srv));
    cJSON_AddStringToObject(o, "recorder_state", recorder_state(srv));
    cJSON *a = cJSON_AddObjectToObject(o, "audio");
    cJSON_AddNumberToObject(a, "chunks_processed", (double)m->frames_total);
    cJSON_AddNumberToObject(a, "seconds_received", m->audio_seconds);
    cJSON_AddNumberToObject(a, "chunks_dropped", (double)m->chunks_dropped);
    cJSON_AddNumberToObject(a, "speech_chunks_dropped", (double)m->speech_chunks_dropped);
    cJSON *t = cJSON_AddObjectToObject(o, "transcription");
    cJSON_AddNumberToObject(t, "utterances", (double)m->utterances);
    cJSON_AddNumberToObject(t, "partials_sent", (double)m->partials_sent);
    cJSON_AddNumberToObject(t, "finals_sent", (double)m->finals_sent);
    cJSON_AddNumberToObject(t, "finals_dropped_client_gone", (double)m->finals_dropped);
    cJSON_AddNumberToObject(t, "errors", (double)m->transcription_errors);
    cJSON_AddNumberToObject(t, "jobs_cancelled", (double)m->jobs_cancelled);
    add_hist_json(t, "final_latency", &m->final_latency);
    add_hist_json(t, "first_partial_latency", &m->first_partial_latency);
    add_hist_json(t, "ingest_latency", &m->ingest_latency);
    add_hist_json(t, "media_lateness", &m->media_lateness);
    cJSON *e = cJSON_AddObjectToObject(o, "engine");
    cJSON_AddStringToObject(e, "name", srv->rec->engine->name);
    cJSON_AddNumberToObject(e, "workers", ps.workers);
    cJSON_AddNumberToObject(e, "busy_workers", ps.busy);
    cJSON_AddNumberToObject(e, "queued_finals", (double)ps.queued_final);
    cJSON_AddNumberToObject(e, "queued_partials", (double)ps.queued_feed);
    cJSON_AddNumberToObject(e, "decoders_in_use", ps.decoders_in_use);
    cJSON_AddNumberToObject(e, "decoders_idle", ps.decoders_pooled);
    cJSON_AddNumberToObject(e, "decoder_waits", (double)m->decoder_waits);
    cJSON_AddNumberToObject(e, "utilization", srv->rec->load.utilization);
    cJSON_AddNumberToObject(e, "busy_seconds", ps.busy_s);
    cJSON_AddNumberToObject(e, "cpu_seconds", ps.cpu_s);
    cJSON_AddNumberToObject(e, "audio_seconds", ps.audio_s);
    cJSON_AddNumberToObject(e, "queue_wait_seconds", srv->rec->load.queue_wait);
    cJSON_AddBoolToObject(e, "overloaded", srv->rec->load.overloaded);
    cJSON *er = cJSON_AddObjectToObject(o, "errors");
    cJSON_AddNumberToObject(er, "transcription_errors", (double)m->transcription_errors);
    cJSON_AddNumberToObject(er, "recorder_errors", (double)m->recorder_errors);
    cJSON_AddNumberToObject(er, "consecutive_errors", (double)m->consecutive_errors);
    cJSON_AddNumberToObject(e, "jobs_in_flight", (double)srv->rec->jobs_in_flight);
    cJSON_AddNumberToObject(e, "timeouts", (double)ps.timeouts);
    cJSON_AddNumberToObject(e, "preemptions", (double)ps.preemptions);
    cJSON_AddNumberToObject(e, "workers_replaced", (double)ps.workers_replaced);
    cJSON_AddNumberToObject(e, "worker_resets", (double)ps.worker_resets);
    cJSON_AddNumberToObject(e, "worker_reset_failures", (double)ps.worker_reset_failures);
    cJSON_AddNumberToObject(e, "workers_stuck", ps.retired_running);
    cJSON *r = cJSON_AddObjectToObject(o, "recovery");
    cJSON_AddNumberToObject(r, "recovery_attempts", (double)m->recovery_attempts);
    cJSON_AddBoolToObject(r, "can_recover", can_recover(srv, &ps));
    cJSON_AddNumberToObject(r, "finals_retried", (double)m->finals_retried);
    cJSON_AddNumberToObject(r, "finals_failed", (double)m->finals_failed);
    cJSON_AddNumberToObject(r, "model_reloads", (double)m->model_reloads);
    cJSON_AddNumberToObject(r, "model_reload_failures", (double)m->model_reload_failures);
    const stt_breaker_t *b = &srv->rec->breaker;
    double now = stt_now_s();
    cJSON *br = cJSON_AddObjectToObject(o, "circuit_breaker");
    cJSON_AddStringToObject(br, "state", stt_breaker_state_name(b->state));
    cJSON_AddNumberToObject(br, "consecutive_failures", b->consecutive_failures);
    cJSON_AddNumberToObject(br, "window_failure_rate", stt_breaker_window_rate(b, now));
    cJSON_AddNumberToObject(br, "openings_since_closed", b->openings);
    cJSON_AddNumberToObject(br, "opened_total", (double)b->n_opened);
    cJSON_AddNumberToObject(br, "half_opened_total", (double)b->n_half_opened);
    cJSON_AddNumberToObject(br, "closed_total", (double)b->n_closed);
    cJSON_AddNumberToObject(br, "probes_total", (double)b->n_probes);
    cJSON_AddNumberToObject(br, "probe_failures_total", (double)b->n_probe_failures);
    cJSON_AddNumberToObject(br, "backoff_seconds", b->delay_s);
    cJSON_AddNumberToObject(br, "backoff_ceiling_seconds", b->ceiling_s);
    cJSON_AddNumberToObject(br, "retry_in_seconds",
                            b->state == STT_BREAKER_OPEN ? b->retry_at_s - now : 0);
    cJSON_AddStringToObject(br, "last_reason", b->reason);
    cJSON *cl = cJSON_AddObjectToObject(o, "cleanup");
    cJSON_AddNumberToObject(cl, "closed_idle", (double)m->sessions_closed_idle);
    cJSON_AddNumberToObject(cl, "closed_max_duration", (double)m->sessions_closed_max_duration);
    cJSON_AddNumberToObject(cl, "stuck_sockets", (double)m->sockets_stuck);
    cJSON_AddNumberToObject(cl, "consistency_errors", (double)m->consistency_errors);
    cJSON *p = cJSON_AddObjectToObject(o, "process");
    cJSON_AddNumberToObject(p, "resident_memory_bytes", (double)rss_bytes());
    cJSON_AddNumberToObject(p, "open_fds", stt_open_fds());
    cJSON_AddNumberToObject(p, "open_fds_at_ready", srv->base_fds);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* ---- Prometheus text format 0.0.4 ---- */

typedef struct {
    char *buf;
    size_t len, cap;
} pbuf_t;

static void pf(pbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pf(pbuf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)(n > 0 ? n : 0) + 256;
        b->buf = stt_realloc(b->buf, b->cap);
    }
}

static void prom_scalar(pbuf_t *b, const char *name, const char *type, const char *help, double v)
{
    pf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

static void prom_hist(pbuf_t *b, const char *name, const char *help, const char *labels,
                      const stt_hist_t *h, int header)
{
    if (header)
        pf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t acc = 0;
    const char *sep = labels[0] ? "," : "";
    for (int i = 0; i < STT_HIST_BUCKETS; i++) {
        acc += h->counts[i];
        pf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, stt_hist_bounds[i],
           (unsigned long long)acc);
    }
    acc += h->counts[STT_HIST_BUCKETS];
    pf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)acc);
    if (labels[0]) {
        pf(b, "%s_sum{%s} %.17g\n%s_count{%s} %llu\n", name, labels, h->sum, name, labels,
           (unsigned long long)h->count);
    } else {
        pf(b, "%s_sum %.17g\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
    }
}

/* Out-of-band results (sinks/calls.h): calls, subscribers, webhook deliveries. */
static void add_calls_prometheus(pbuf_t *b, stt_server_t *srv)
{
    if (!srv->calls)
        return;
    stt_calls_stats_t cs;
    stt_calls_stats(srv->calls, &cs);
    prom_scalar(b, "stt_oob_calls_active", "gauge",
                "Calls whose results leave out-of-band (webhook, subscribers), live now.",
                (double)cs.calls_live);
    prom_scalar(b, "stt_oob_calls_total", "counter", "Out-of-band calls started.",
                (double)cs.calls_total);
    prom_scalar(b, "stt_oob_events_total", "counter",
                "Call events built (each sent to every subscriber and webhook of its call).",
                (double)cs.events_total);
    prom_scalar(b, "stt_call_subscribers_active", "gauge",
                "Connections subscribed to /v1/calls/{id}/events.", (double)cs.subscribers_live);
    prom_scalar(b, "stt_call_subscribers_dropped_total", "counter",
                "Subscribers closed for not reading (--subscriber_max_queue_bytes).",
                (double)cs.subscribers_dropped);
    pf(b,
       "# HELP stt_webhook_deliveries_total Webhook events by outcome: ok (2xx), failed (given "
       "up after retries, a 4xx, or a certificate that did not verify), dropped (a full per-call "
       "queue, or left at shutdown).\n"
       "# TYPE stt_webhook_deliveries_total counter\n"
       "stt_webhook_deliveries_total{result=\"ok\"} %llu\n"
       "stt_webhook_deliveries_total{result=\"failed\"} %llu\n"
       "stt_webhook_deliveries_total{result=\"dropped\"} %llu\n",
       (unsigned long long)cs.webhook_ok, (unsigned long long)cs.webhook_failed,
       (unsigned long long)cs.webhook_dropped);
    prom_scalar(b, "stt_webhook_retries_total", "counter",
                "Webhook requests retried after a connect error, timeout, 5xx or 429.",
                (double)cs.webhook_retried);
    prom_scalar(b, "stt_webhook_queued", "gauge", "Webhook events waiting or in flight.",
                (double)cs.webhook_queued);
    prom_scalar(b, "stt_webhook_urls_refused_total", "counter",
                "Webhook URLs calls asked for that --webhook_allow does not permit.",
                (double)cs.webhook_urls_refused);
}

static char *metrics_prometheus(stt_server_t *srv)
{
    const stt_metrics_t *m = &srv->rec->m;
    stt_pool_stats_t ps;
    stt_pool_stats(srv->rec->pool, &ps);
    pbuf_t b = {stt_malloc(8192), 0, 8192};
    b.buf[0] = '\0';
    pf(&b,
       "# HELP stt_build_info Build information.\n# TYPE stt_build_info gauge\n"
       "stt_build_info{version=\"%s\",engine=\"%s\"} 1\n",
       STT_VERSION, srv->rec->engine->name);
    prom_scalar(&b, "stt_up", "gauge", "1 when the engine is loaded and the server is ready.",
                server_ready(srv));
    prom_scalar(&b, "stt_uptime_seconds", "gauge", "Seconds since start.",
                stt_now_s() - srv->started_s);
    prom_scalar(&b, "stt_sessions_active", "gauge", "Live data sessions.", srv->n_calls);
    prom_scalar(&b, "stt_control_connections_active", "gauge", "Live control connections.",
                srv->n_other);
    prom_scalar(&b, "stt_sessions_total", "counter", "Data sessions accepted.",
                (double)m->sessions_total);
    pf(&b,
       "# HELP stt_sessions_rejected_total Data sessions refused.\n"
       "# TYPE stt_sessions_rejected_total counter\n"
       "stt_sessions_rejected_total{reason=\"capacity\"} %llu\n"
       "stt_sessions_rejected_total{reason=\"draining\"} %llu\n"
       "stt_sessions_rejected_total{reason=\"overload\"} %llu\n"
       "stt_sessions_rejected_total{reason=\"engine_unavailable\"} %llu\n",
       (unsigned long long)m->sessions_rejected_capacity,
       (unsigned long long)m->sessions_rejected_draining,
       (unsigned long long)m->sessions_rejected_overload,
       (unsigned long long)m->sessions_rejected_unavailable);
    pf(&b,
       "# HELP stt_sessions_closed_total Data sessions the server closed by itself.\n"
       "# TYPE stt_sessions_closed_total counter\n"
       "stt_sessions_closed_total{reason=\"idle\"} %llu\n"
       "stt_sessions_closed_total{reason=\"max_duration\"} %llu\n"
       "stt_sessions_closed_total{reason=\"stuck_socket\"} %llu\n",
       (unsigned long long)m->sessions_closed_idle,
       (unsigned long long)m->sessions_closed_max_duration,
       (unsigned long long)m->sockets_stuck);
    prom_scalar(&b, "stt_control_connections_total", "counter", "Control connections accepted.",
                (double)m->control_total);
    prom_scalar(&b, "stt_audio_chunks_total", "counter", "Audio frames processed.",
                (double)m->frames_total);
    prom_scalar(&b, "stt_audio_seconds_total", "counter", "Seconds of audio received.",
                m->audio_seconds);
    {
        static const char *const upload_names[] = {
#define STT_UPLOAD_NAME(name, str) str,
            STT_UPLOAD_RESULT_MAP(STT_UPLOAD_NAME)
#undef STT_UPLOAD_NAME
        };
        pf(&b, "# HELP stt_uploads_total File API transcription requests, by result.\n"
               "# TYPE stt_uploads_total counter\n");
        for (int r = 0; r < STT_UPLOAD_RESULTS; r++)
            pf(&b, "stt_uploads_total{result=\"%s\"} %llu\n", upload_names[r],
               (unsigned long long)m->uploads[r]);
    }
    prom_scalar(&b, "stt_upload_audio_seconds_total", "counter",
                "Seconds of audio decoded from file API uploads.", m->upload_audio_seconds);
    prom_scalar(&b, "stt_uploads_active", "gauge", "File API transcriptions in progress.",
                (double)m->uploads_active);
    pf(&b, "# HELP stt_frame_errors_total Malformed data frames, by error.\n"
           "# TYPE stt_frame_errors_total counter\n");
    for (int e = 1; e <= STT_FRAME_TOOBIG; e++)
        pf(&b, "stt_frame_errors_total{error=\"%s\"} %llu\n",
           stt_frame_err_name((stt_frame_err_t)e), (unsigned long long)m->frame_errors[e]);
    pf(&b, "# HELP stt_protocol_errors_total Client protocol errors, by protocol and error "
           "(fatal ones closed their connection; tolerated ones were counted and skipped).\n"
           "# TYPE stt_protocol_errors_total counter\n");
    for (size_t i = 0; i < m->n_protocol_errors; i++)
        pf(&b, "stt_protocol_errors_total{protocol=\"%s\",error=\"%s\"} %llu\n",
           m->protocol_errors[i].protocol, m->protocol_errors[i].error,
           (unsigned long long)m->protocol_errors[i].count);
    prom_scalar(&b, "stt_utterances_total", "counter", "Recordings started.",
                (double)m->utterances);
    prom_scalar(&b, "stt_partials_total", "counter", "Realtime (partial) transcripts sent.",
                (double)m->partials_sent);
    prom_scalar(&b, "stt_finals_total", "counter", "Final transcripts sent.",
                (double)m->finals_sent);
    prom_scalar(&b, "stt_finals_dropped_total", "counter",
                "Final transcripts not delivered because the client had gone.",
                (double)m->finals_dropped);
    prom_scalar(&b, "stt_transcription_errors_total", "counter", "Failed engine jobs.",
                (double)m->transcription_errors);
    prom_scalar(&b, "stt_engine_jobs_cancelled_total", "counter",
                "Engine jobs stopped while running because their session went away.",
                (double)m->jobs_cancelled);
    prom_scalar(&b, "stt_consecutive_errors", "gauge", "Engine failures since the last success.",
                (double)m->consecutive_errors);
    const stt_breaker_t *br = &srv->rec->breaker;
    pf(&b, "# HELP stt_circuit_breaker_state 1 for the engine circuit breaker's current state.\n"
           "# TYPE stt_circuit_breaker_state gauge\n");
    for (int st = STT_BREAKER_CLOSED; st <= STT_BREAKER_HALF_OPEN; st++)
        pf(&b, "stt_circuit_breaker_state{state=\"%s\"} %d\n",
           stt_breaker_state_name((stt_breaker_state_t)st), (int)br->state == st);
    pf(&b,
       "# HELP stt_circuit_breaker_transitions_total Circuit breaker transitions, by new state.\n"
       "# TYPE stt_circuit_breaker_transitions_total counter\n"
       "stt_circuit_breaker_transitions_total{to=\"open\"} %llu\n"
       "stt_circuit_breaker_transitions_total{to=\"half_open\"} %llu\n"
       "stt_circuit_breaker_transitions_total{to=\"closed\"} %llu\n",
       (unsigned long long)br->n_opened, (unsigned long long)br->n_half_opened,
       (unsigned long long)br->n_closed);
    prom_scalar(&b, "stt_circuit_breaker_backoff_seconds", "gauge",
                "The last backoff drawn (full jitter below the ceiling).", br->delay_s);
    prom_scalar(&b, "stt_recovery_attempts_total", "counter",
                "Half-open probing rounds started by the circuit breaker.",
                (double)m->recovery_attempts);
    prom_scalar(&b, "stt_can_recover", "gauge",
                "0 when self-healing cannot bring the engine back (model failed, workers stuck).",
                can_recover(srv, &ps));
    prom_scalar(&b, "stt_engine_timeouts_total", "counter",
                "Engine jobs the watchdog aborted for running past their deadline.",
                (double)ps.timeouts);
    prom_scalar(&b, "stt_engine_preemptions_total", "counter",
                "Feeds that yielded to a waiting final or first partial between slices.",
                (double)ps.preemptions);
    prom_scalar(&b, "stt_engine_workers_replaced_total", "counter",
                "Workers stuck in an engine call past the watchdog's grace, replaced.",
                (double)ps.workers_replaced);
    prom_scalar(&b, "stt_engine_worker_resets_total", "counter",
                "Worker engine states destroyed and recreated after a failure.",
                (double)ps.worker_resets);
    pf(&b,
       "# HELP stt_engine_model_reloads_total Model reloads after worker resets did not help.\n"
       "# TYPE stt_engine_model_reloads_total counter\n"
       "stt_engine_model_reloads_total{result=\"ok\"} %llu\n"
       "stt_engine_model_reloads_total{result=\"failed\"} %llu\n",
       (unsigned long long)m->model_reloads, (unsigned long long)m->model_reload_failures);
    prom_scalar(&b, "stt_engine_jobs_in_flight", "gauge",
                "Engine jobs handed to the workers and not yet back.",
                (double)srv->rec->jobs_in_flight);
    prom_scalar(&b, "stt_finals_retried_total", "counter",
                "Finals decoded again after an engine failure or timeout.",
                (double)m->finals_retried);
    prom_scalar(&b, "stt_finals_failed_total", "counter",
                "Utterances whose final could not be produced (error transcription_failed).",
                (double)m->finals_failed);
    prom_scalar(&b, "stt_consistency_errors_total", "counter",
                "Mismatches found by the periodic consistency check.",
                (double)m->consistency_errors);
    prom_scalar(&b, "stt_engine_workers", "gauge", "Engine worker threads.", ps.workers);
    prom_scalar(&b, "stt_engine_busy_workers", "gauge", "Workers running a job.", ps.busy);
    pf(&b,
       "# HELP stt_engine_queue_depth Jobs waiting for a worker.\n"
       "# TYPE stt_engine_queue_depth gauge\n"
       "stt_engine_queue_depth{kind=\"final\"} %zu\n"
       "stt_engine_queue_depth{kind=\"partial\"} %zu\n",
       ps.queued_final, ps.queued_feed);
    prom_scalar(&b, "stt_engine_utilization", "gauge",
                "Fraction of worker time spent in jobs (smoothed, last seconds).",
                srv->rec->load.utilization);
    prom_scalar(&b, "stt_engine_busy_seconds_total", "counter",
                "Worker seconds spent running jobs (rate / workers = utilization).", ps.busy_s);
    prom_scalar(&b, "stt_engine_cpu_seconds_total", "counter",
                "CPU seconds the workers used running jobs (busy time less waits for a core).",
                ps.cpu_s);
    prom_scalar(&b, "stt_engine_audio_seconds_total", "counter",
                "Seconds of audio in the engine jobs that ran (cpu rate / this rate = the "
                "engine's real-time factor).",
                ps.audio_s);
    prom_scalar(&b, "stt_engine_queue_wait_seconds", "gauge",
                "Mean time a job waited for a worker (smoothed, last seconds).",
                srv->rec->load.queue_wait);
    prom_scalar(&b, "stt_overloaded", "gauge", "1 while new sessions are refused for load.",
                srv->rec->load.overloaded);
    prom_scalar(&b, "stt_decoders_in_use", "gauge", "Decoders leased to utterances.",
                ps.decoders_in_use);
    prom_scalar(&b, "stt_decoders_idle", "gauge", "Decoders idle in the pool.", ps.decoders_pooled);
    pf(&b,
       "# HELP stt_audio_chunks_dropped_total 512-sample chunks left out because the engine "
       "was behind (--handle_buffer_overflow).\n"
       "# TYPE stt_audio_chunks_dropped_total counter\n"
       "stt_audio_chunks_dropped_total{speech=\"no\"} %llu\n"
       "stt_audio_chunks_dropped_total{speech=\"yes\"} %llu\n",
       (unsigned long long)(m->chunks_dropped - m->speech_chunks_dropped),
       (unsigned long long)m->speech_chunks_dropped);
    prom_scalar(&b, "stt_decoder_waits_total", "counter",
                "Jobs that found no free decoder and were retried.", (double)m->decoder_waits);
    prom_hist(&b, "stt_final_latency_seconds",
              "Seconds from recording_stop to the final transcript being queued, including a "
              "wait for an earlier utterance's final (finals go out in utterance order).",
              "",
              &m->final_latency, 1);
    prom_hist(&b, "stt_first_partial_latency_seconds",
              "Seconds from recording_start to the first realtime transcript.", "",
              &m->first_partial_latency, 1);
    prom_hist(&b, "stt_ingest_latency_seconds",
              "Seconds from a frame's server_sent_to_stt timestamp (client clock) to the frame "
              "having passed the VAD; frames that carry the key only.",
              "", &m->ingest_latency, 1);
    prom_hist(&b, "stt_media_lateness_seconds",
              "Seconds a media message (Twilio family) passed the VAD later than its own "
              "timestamp says, against the call's least-delayed message so far; messages with a "
              "timestamp only.",
              "", &m->media_lateness, 1);
    prom_hist(&b, "stt_engine_job_duration_seconds", "Engine time per job.", "kind=\"final\"",
              &m->job_final, 1);
    prom_hist(&b, "stt_engine_job_duration_seconds", "", "kind=\"partial\"", &m->job_feed, 0);
    add_calls_prometheus(&b, srv);
    prom_scalar(&b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                (double)rss_bytes());
    prom_scalar(&b, "process_open_fds", "gauge", "Open file descriptors.", stt_open_fds());
    prom_scalar(&b, "process_start_time_seconds", "gauge", "Start time since the epoch.",
                srv->started_epoch);
    return b.buf;
}

/* Prometheus sends an Accept header listing openmetrics-text and text/plain;version=0.0.4; a
 * browser or curl sends "any" or application/json and gets the seed's JSON. */
static int wants_prometheus(struct lws *wsi)
{
    char accept[512] = "", q[64] = "";
    if (lws_hdr_copy(wsi, accept, sizeof(accept), WSI_TOKEN_HTTP_ACCEPT) < 0)
        accept[0] = '\0';
    if (lws_get_urlarg_by_name(wsi, "format=", q, sizeof(q)))
        return strcmp(q, "prometheus") == 0 || strcmp(q, "format=prometheus") == 0;
    return strstr(accept, "text/plain") || strstr(accept, "openmetrics-text");
}

static int monitor_http(stt_server_t *srv, struct lws *wsi, const char *path, char **body,
                        size_t *body_len, const char **content_type)
{
    int status = 200;
    *content_type = "application/json";
    if (strcmp(path, "/health") == 0 || strcmp(path, "/healthz") == 0) {
        *body = health_json(srv);
        status = healthy(srv) ? 200 : 503;
    } else if (strcmp(path, "/livez") == 0) {
        *body = stt_strdup("{\"status\":\"alive\"}");
    } else if (strcmp(path, "/readyz") == 0) {
        int ready = server_ready(srv);
        char buf[128];
        snprintf(buf, sizeof(buf), "{\"status\":\"%s\"}",
                 ready                  ? "ready"
                 : srv->draining        ? "draining"
                 : srv->rec->load.overloaded ? "overloaded"
                                        : recorder_state(srv));
        *body = stt_strdup(buf);
        status = ready ? 200 : 503;
    } else if (strcmp(path, "/metrics") == 0) {
        if (wants_prometheus(wsi)) {
            *body = metrics_prometheus(srv);
            *content_type = "text/plain; version=0.0.4; charset=utf-8";
        } else {
            *body = metrics_json(srv);
        }
    } else {
        *body = stt_strdup("{\"error\":\"not found\"}");
        status = 404;
    }
    *body_len = strlen(*body);
    return status;
}

/* ---- the monitoring listener ---- */

typedef struct {
    char *body; /* HTTP response body being written */
    size_t body_len;
} pss_t;

static int cb_monitor(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    stt_server_t *srv = lws_context_user(lws_get_context(wsi));
    pss_t *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        const char *ctype;
        free(pss->body);
        int status = monitor_http(srv, wsi, (const char *)in, &pss->body, &pss->body_len, &ctype);
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

static const struct lws_protocols monitor_protocols[] = {
    {"http", cb_monitor, sizeof(pss_t), 4096, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};
const struct lws_protocols *const stt_monitor_protocols = monitor_protocols;
