/* stt-loadgen's results: the JSON object the benchmarks read (bench/null_calls.py,
 * bench/capacity.py: keep its keys) and the table on stderr, both from the counters and
 * histograms the calls filled in.
 *
 * Threading: the main thread, after the loop ended. Ownership: lg_report_json() returns a cJSON
 * tree the caller deletes; the others borrow everything.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "loadgen.h"
#include "stt/error.h"
#include "stt/log.h"

static cJSON *hist_json(const stt_tool_hist_t *h)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)h->n);
    cJSON_AddNumberToObject(o, "mean_ms", h->n ? h->sum_us / (double)h->n / 1e3 : 0);
    cJSON_AddNumberToObject(o, "p50_ms", (double)stt_tool_hist_quantile(h, 0.50) / 1e3);
    cJSON_AddNumberToObject(o, "p95_ms", (double)stt_tool_hist_quantile(h, 0.95) / 1e3);
    cJSON_AddNumberToObject(o, "p99_ms", (double)stt_tool_hist_quantile(h, 0.99) / 1e3);
    cJSON_AddNumberToObject(o, "max_ms", (double)h->max_us / 1e3);
    return o;
}

static void hist_row(const char *name, const stt_tool_hist_t *h)
{
    if (h->n == 0) {
        fprintf(stderr, "  %-22s %9s\n", name, "-");
        return;
    }
    fprintf(stderr, "  %-22s %9llu %9.1f %9.1f %9.1f %9.1f\n", name, (unsigned long long)h->n,
            (double)stt_tool_hist_quantile(h, 0.50) / 1e3,
            (double)stt_tool_hist_quantile(h, 0.95) / 1e3,
            (double)stt_tool_hist_quantile(h, 0.99) / 1e3, (double)h->max_us / 1e3);
}

typedef struct {
    unsigned long long utt_planned, utt_sent, finals_matched, finals_missing;
    unsigned calls_missing, utt_no_realtime;
} utt_totals_t;

static utt_totals_t utt_totals(const loadgen_t *g)
{
    utt_totals_t t;
    memset(&t, 0, sizeof(t));
    for (int i = 0; i < g->o.calls; i++) {
        const lg_call_t *c = &g->calls[i];
        t.utt_planned += (unsigned long long)c->u_planned;
        t.utt_sent += (unsigned long long)c->u_sent;
        int matched = c->u_final < c->u_sent ? c->u_final : c->u_sent;
        t.finals_matched += (unsigned long long)c->u_final;
        if (c->u_sent > matched) {
            t.finals_missing += (unsigned long long)(c->u_sent - matched);
            t.calls_missing++;
        }
    }
    /* Every utterance with a first realtime event contributed one ttfr sample. */
    t.utt_no_realtime = t.utt_sent > g->h_ttfr.n ? (unsigned)(t.utt_sent - g->h_ttfr.n) : 0;
    return t;
}

cJSON *lg_report_json(const loadgen_t *g, double elapsed_s, const struct rusage *ru_end)
{
    utt_totals_t t = utt_totals(g);
    cJSON *r = cJSON_CreateObject();
    cJSON *cfg = cJSON_AddObjectToObject(r, "config");
    cJSON_AddStringToObject(cfg, "url", g->o.url);
    /* Only when not the default, so that a RealtimeSTT run has the keys it always had. */
    if (g->o.proto != stt_client_proto_default())
        cJSON_AddStringToObject(cfg, "protocol", g->o.proto->name);
    cJSON_AddNumberToObject(cfg, "calls", g->o.calls);
    cJSON_AddNumberToObject(cfg, "duration_s", g->o.duration_s);
    cJSON_AddNumberToObject(cfg, "ramp_s", g->o.ramp_s);
    cJSON_AddNumberToObject(cfg, "drain_s", (double)g->drain_us / 1e6);
    cJSON_AddStringToObject(cfg, "wav", g->o.wav);
    cJSON_AddStringToObject(cfg, "event_loop", g->evl ? "libev" : "poll");
    cJSON_AddNumberToObject(cfg, "file_s", g->file_s);
    cJSON_AddNumberToObject(cfg, "speech_onset_s", (double)g->onset_us / 1e6);
    cJSON_AddNumberToObject(cfg, "speech_end_s", (double)g->end_us / 1e6);
    cJSON_AddNumberToObject(cfg, "talk_ratio", g->o.talk_ratio);
    cJSON_AddNumberToObject(cfg, "gap_s", (double)(g->gap_frames * g->frame_us) / 1e6);
    cJSON_AddNumberToObject(cfg, "frame_ms", g->o.frame_ms);
    cJSON_AddNumberToObject(cfg, "rate_hz", g->o.rate_hz);
    cJSON_AddBoolToObject(cfg, "idle", g->o.idle);
    cJSON_AddNumberToObject(cfg, "sources", g->o.n_sources ? g->o.n_sources : 1);
    cJSON_AddNumberToObject(r, "elapsed_s", elapsed_s);

    cJSON *cn = cJSON_AddObjectToObject(r, "connections");
    cJSON_AddNumberToObject(cn, "attempted", g->next_connect);
    cJSON_AddNumberToObject(cn, "established", g->established);
    cJSON_AddNumberToObject(cn, "connect_failed", g->connect_failed);
    cJSON_AddNumberToObject(cn, "closed_by_server", g->dropped_by_server);
    cJSON_AddNumberToObject(cn, "rejected_within_1s", g->rejected);
    cJSON_AddNumberToObject(cn, "write_errors", g->write_errors);
    if (g->first_connect_error[0])
        cJSON_AddStringToObject(cn, "first_connect_error", g->first_connect_error);
    cJSON *codes = cJSON_AddArrayToObject(cn, "server_close_codes");
    for (int i = 0; i < g->n_close_codes; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "code", g->close_codes[i].code);
        cJSON_AddStringToObject(e, "reason", g->close_codes[i].reason);
        cJSON_AddNumberToObject(e, "count", g->close_codes[i].count);
        cJSON_AddItemToArray(codes, e);
    }
    cJSON_AddItemToObject(cn, "connect_time", hist_json(&g->h_connect));

    cJSON *fr = cJSON_AddObjectToObject(r, "frames");
    cJSON_AddNumberToObject(fr, "sent", (double)g->frames_sent);
    cJSON_AddNumberToObject(fr, "bytes_sent", (double)g->bytes_sent);
    cJSON_AddNumberToObject(fr, "late_over_100ms", (double)g->frames_late);
    cJSON_AddNumberToObject(fr, "unsent_at_end", (double)g->frames_unsent);
    cJSON_AddItemToObject(fr, "send_lateness", hist_json(&g->h_late));

    cJSON *u = cJSON_AddObjectToObject(r, "utterances");
    cJSON_AddNumberToObject(u, "planned", (double)t.utt_planned);
    cJSON_AddNumberToObject(u, "sent", (double)t.utt_sent);
    cJSON_AddNumberToObject(u, "finals_matched", (double)t.finals_matched);
    cJSON_AddNumberToObject(u, "finals_missing", (double)t.finals_missing);
    cJSON_AddNumberToObject(u, "calls_with_missing_finals", t.calls_missing);
    cJSON_AddNumberToObject(u, "finals_before_speech_end", (double)g->finals_early);
    cJSON_AddNumberToObject(u, "finals_unexpected", (double)g->finals_unexpected);
    cJSON_AddNumberToObject(u, "without_realtime", t.utt_no_realtime);
    cJSON_AddItemToObject(u, "time_to_first_realtime", hist_json(&g->h_ttfr));
    cJSON_AddItemToObject(u, "realtime_cadence", hist_json(&g->h_cadence));
    cJSON_AddItemToObject(u, "final_latency", hist_json(&g->h_final));

    /* The keys keep RealtimeSTT's names whatever the protocol: "realtime" counts the partials
     * that carried news, "fullSentence" the finals. */
    cJSON *ev = cJSON_AddObjectToObject(r, "events");
    cJSON_AddNumberToObject(ev, "realtime", (double)g->ev_realtime);
    cJSON_AddNumberToObject(ev, "realtime_stale", (double)g->realtime_stale);
    cJSON_AddNumberToObject(ev, "fullSentence", (double)g->ev_full);
    cJSON_AddNumberToObject(ev, "other", (double)g->ev_other);
    cJSON_AddNumberToObject(ev, "unparsed", (double)g->ev_unparsed);
    cJSON_AddNumberToObject(ev, "oversize_skipped", (double)g->ev_oversize);
    if (g->o.proto->transport == STT_CLIENT_TRANSPORT_TCP)
        cJSON_AddNumberToObject(ev, "raw_bytes_received", (double)g->raw_rx_bytes);

    if (g->o.server_pid > 0) {
        cJSON *s = cJSON_AddObjectToObject(r, "server");
        cJSON_AddNumberToObject(s, "pid", (double)g->o.server_pid);
        cJSON_AddBoolToObject(s, "sampled", g->srv.ok);
        if (g->srv.ok) {
            double cpu = g->srv.cpu_end_s - g->srv.cpu_start_s;
            cJSON_AddNumberToObject(s, "rss_start_kb", (double)g->srv.rss_start_kb);
            cJSON_AddNumberToObject(s, "rss_end_kb", (double)g->srv.rss_end_kb);
            cJSON_AddNumberToObject(s, "rss_peak_kb", (double)g->srv.rss_peak_kb);
            cJSON_AddNumberToObject(s, "vmhwm_kb", (double)g->srv.hwm_end_kb);
            cJSON_AddNumberToObject(
                s, "rss_per_connection_kb",
                g->established ? (double)(g->srv.rss_peak_kb - g->srv.rss_start_kb) / g->established
                               : 0);
            cJSON_AddNumberToObject(s, "cpu_s", cpu);
            cJSON_AddNumberToObject(s, "cpu_cores_avg", elapsed_s > 0 ? cpu / elapsed_s : 0);
        }
    }
    double lg_cpu = (double)(ru_end->ru_utime.tv_sec - g->ru_start.ru_utime.tv_sec) +
                    (double)(ru_end->ru_stime.tv_sec - g->ru_start.ru_stime.tv_sec) +
                    (double)(ru_end->ru_utime.tv_usec - g->ru_start.ru_utime.tv_usec) / 1e6 +
                    (double)(ru_end->ru_stime.tv_usec - g->ru_start.ru_stime.tv_usec) / 1e6;
    cJSON *me = cJSON_AddObjectToObject(r, "loadgen");
    cJSON_AddNumberToObject(me, "cpu_s", lg_cpu);
    cJSON_AddNumberToObject(me, "max_rss_kb", (double)ru_end->ru_maxrss);
    return r;
}

void lg_report_table(const loadgen_t *g, const cJSON *r)
{
    utt_totals_t t = utt_totals(g);
    fprintf(stderr, "\nstt-loadgen: %d %s%scalls%s, %.1f s, %s\n", g->o.calls,
            g->o.proto != stt_client_proto_default() ? g->o.proto->name : "",
            g->o.proto != stt_client_proto_default() ? " " : "", g->o.idle ? " (idle)" : "",
            cJSON_GetObjectItem(r, "elapsed_s")->valuedouble, g->o.url);
    fprintf(stderr,
            "  connections: %u established, %u failed, %u closed by the server (%u within 1 s "
            "of the handshake)\n",
            g->established, g->connect_failed, g->dropped_by_server, g->rejected);
    for (int i = 0; i < g->n_close_codes; i++)
        fprintf(stderr, "  server close %d x%u%s%s\n", g->close_codes[i].code,
                g->close_codes[i].count, g->close_codes[i].reason[0] ? ": " : "",
                g->close_codes[i].reason);
    if (g->first_connect_error[0])
        fprintf(stderr, "  first connect error: %s\n", g->first_connect_error);
    if (!g->o.idle) {
        fprintf(stderr, "  frames: %llu sent, %llu late >100 ms, %llu unsent at the end\n",
                (unsigned long long)g->frames_sent, (unsigned long long)g->frames_late,
                (unsigned long long)g->frames_unsent);
        fprintf(stderr,
                "  utterances: %llu sent, %llu finals matched, %llu MISSING (%u calls), "
                "%u without realtime, %llu early/split finals, %llu unexpected\n",
                t.utt_sent, t.finals_matched, t.finals_missing, t.calls_missing, t.utt_no_realtime,
                (unsigned long long)g->finals_early, (unsigned long long)g->finals_unexpected);
    }
    fprintf(stderr, "  %-22s %9s %9s %9s %9s %9s\n", "(ms)", "count", "p50", "p95", "p99", "max");
    hist_row("connect", &g->h_connect);
    if (!g->o.idle) {
        hist_row("send lateness", &g->h_late);
        hist_row("first realtime", &g->h_ttfr);
        hist_row("realtime cadence", &g->h_cadence);
        hist_row("final latency", &g->h_final);
    }
    const cJSON *s = cJSON_GetObjectItem(r, "server");
    if (s && g->srv.ok) {
        fprintf(stderr,
                "  server pid %ld: RSS %.1f -> %.1f MiB (peak %.1f, %.1f KiB/connection), "
                "CPU %.2f s = %.2f cores\n",
                g->o.server_pid, (double)g->srv.rss_start_kb / 1024,
                (double)g->srv.rss_end_kb / 1024, (double)g->srv.rss_peak_kb / 1024,
                cJSON_GetObjectItem(s, "rss_per_connection_kb")->valuedouble,
                cJSON_GetObjectItem(s, "cpu_s")->valuedouble,
                cJSON_GetObjectItem(s, "cpu_cores_avg")->valuedouble);
    } else if (g->o.server_pid > 0) {
        fprintf(stderr, "  server pid %ld: could not be sampled\n", g->o.server_pid);
    }
    const cJSON *me = cJSON_GetObjectItem(r, "loadgen");
    fprintf(stderr, "  loadgen: CPU %.2f s, max RSS %.1f MiB\n",
            cJSON_GetObjectItem(me, "cpu_s")->valuedouble,
            cJSON_GetObjectItem(me, "max_rss_kb")->valuedouble / 1024);
}

int lg_report_write(const loadgen_t *g, const cJSON *r)
{
    char *text = cJSON_Print(r);
    if (!text)
        stt_fatal(__FILE__, __LINE__, "cJSON_Print");
    int rc = 0;
    if (g->o.json_path) {
        FILE *f = fopen(g->o.json_path, "w");
        if (!f || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0) {
            fprintf(stderr, "stt-loadgen: cannot write %s: %s\n", g->o.json_path, strerror(errno));
            rc = STT_EIO;
        }
    } else {
        fprintf(stdout, "%s\n", text);
        fflush(stdout);
    }
    cJSON_free(text);
    return rc;
}
