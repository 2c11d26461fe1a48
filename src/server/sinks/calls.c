/* The out-of-band call registry (calls.h): call ids -> their live calls and subscribers, each
 * call's `seq`, the one JSON event schema, repeated-partial suppression per track, and the
 * fan-out of every event to the call's sinks (sink.h): the id's subscribers (subscribe.c) and
 * the webhook destinations (webhook.c).
 *
 * Threads: the loop thread only; webhook delivery runs on the webhook's own thread, which this
 * file reaches only through the webhook sinks' enqueue. Ownership: the registry owns the id
 * table (an entry per id with a live call or a subscriber, freed when neither remains), the
 * webhook sender and its default destination's reference; a call owns copies of its strings,
 * its last partial texts and one reference to each of its sinks. */
#include "calls.h"

#include "sink.h"
#include "subscribe.h"
#include "webhook.h"

#include "stt/error.h"
#include "stt/log.h"
#include "stt/text.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_BUCKETS 1024
#define MAX_TRACKS 16 /* tracks whose repeated partials are suppressed (more are never seen) */

/* One call id: its subscribers and how many live calls use it. */
typedef struct topic {
    struct topic *next; /* in its bucket */
    stt_subs_t *subs;   /* one reference held by the entry */
    int n_calls;
    char id[];
} topic_t;

struct stt_calls {
    const stt_config_t *cfg;
    topic_t *buckets[N_BUCKETS];
    stt_webhook_t *wh;          /* NULL: no --webhook_url and no --webhook_allow */
    stt_sink_t *default_hook;   /* --webhook_url's destination, or NULL */
    uint64_t next_key;
    stt_calls_stats_t st;
};

struct stt_call {
    stt_calls_t *calls;
    topic_t *topic;
    char *protocol, *call_id, *stream_id;
    uint64_t conn_id, key, seq;
    double started_s;
    stt_sink_set_t sinks;
    struct {
        uint32_t utt;
        char *text; /* the last partial sent on the track (of utterance utt), or NULL */
    } last[MAX_TRACKS];
};

/* ---- ids ---- */

int stt_call_id_valid(const char *id)
{
    if (!id || !id[0])
        return STT_EINVAL;
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        unsigned char ch = (unsigned char)*p;
        /* Printable ASCII without the characters that would need escaping in the subscriber
         * path or in JSON. */
        if (n >= STT_CALL_ID_MAX || ch <= 0x20 || ch >= 0x7f || strchr("/?#%\\\"", ch))
            return STT_EINVAL;
    }
    return 0;
}

static uint32_t hash_id(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % N_BUCKETS;
}

static topic_t *topic_find(stt_calls_t *calls, const char *id)
{
    for (topic_t *t = calls->buckets[hash_id(id)]; t; t = t->next)
        if (strcmp(t->id, id) == 0)
            return t;
    return NULL;
}

static topic_t *topic_get(stt_calls_t *calls, const char *id)
{
    topic_t *t = topic_find(calls, id);
    if (t)
        return t;
    size_t n = strlen(id);
    t = stt_calloc(1, sizeof(*t) + n + 1);
    memcpy(t->id, id, n + 1);
    t->subs = stt_subs_create((size_t)calls->cfg->subscriber_max_queue_bytes,
                              &calls->st.subscribers_dropped);
    uint32_t b = hash_id(id);
    t->next = calls->buckets[b];
    calls->buckets[b] = t;
    calls->st.ids_live++;
    return t;
}

/* Frees the entry once no call and no subscriber uses it. */
static void topic_maybe_free(stt_calls_t *calls, topic_t *t)
{
    if (t->n_calls > 0 || stt_subs_count(t->subs) > 0)
        return;
    for (topic_t **pp = &calls->buckets[hash_id(t->id)]; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    stt_sink_release(stt_subs_sink(t->subs));
    free(t);
    calls->st.ids_live--;
}

/* ---- the registry ---- */

stt_calls_t *stt_calls_create(const stt_config_t *cfg)
{
    const char *url = cfg->webhook_url ? cfg->webhook_url : "";
    if (url[0] && !stt_webhook_url_valid(url)) {
        STT_ERROR(0, "webhook_config", "--webhook_url '%s' is not an http(s) URL with a host", url);
        return NULL;
    }
    for (size_t i = 0; i < cfg->webhook_allow.count; i++) {
        if (!stt_webhook_url_valid(cfg->webhook_allow.items[i])) {
            STT_ERROR(0, "webhook_config",
                      "--webhook_allow entry '%s' is not an http(s) URL prefix with a host",
                      cfg->webhook_allow.items[i]);
            return NULL;
        }
    }
    const char *ca = cfg->webhook_ca_file ? cfg->webhook_ca_file : "";
    if (ca[0]) { /* libcurl would only say so at the first delivery */
        FILE *f = fopen(ca, "r");
        int err = f ? 0 : errno;
        if (f && getc(f) == EOF)
            err = ferror(f) ? errno : ENODATA;
        if (f)
            fclose(f);
        if (err) {
            STT_ERROR(0, "webhook_config", "--webhook_ca_file '%s' cannot be read: %s", ca,
                      err == ENODATA ? "empty file" : strerror(err));
            return NULL;
        }
    }
    static const char *const kinds[] = {"call_start", "speech_start", "partial", "final",
                                        "final_failed", "dtmf", "call_end"};
    for (size_t i = 0; i < cfg->webhook_events.count; i++) {
        size_t k = 0;
        while (k < sizeof(kinds) / sizeof(kinds[0]) &&
               strcmp(kinds[k], cfg->webhook_events.items[i]) != 0)
            k++;
        if (k == sizeof(kinds) / sizeof(kinds[0])) {
            STT_ERROR(0, "webhook_config",
                      "--webhook_events '%s' is no event kind (call_start, speech_start, partial, "
                      "final, final_failed, dtmf, call_end)",
                      cfg->webhook_events.items[i]);
            return NULL;
        }
    }
    stt_calls_t *calls = stt_calloc(1, sizeof(*calls));
    calls->cfg = cfg;
    if (url[0] || cfg->webhook_allow.count > 0) {
        calls->wh = stt_webhook_create(cfg);
        if (!calls->wh) {
            free(calls);
            return NULL;
        }
        if (url[0])
            calls->default_hook = stt_webhook_sink(calls->wh, url);
    }
    return calls;
}

void stt_calls_destroy(stt_calls_t *calls)
{
    if (!calls)
        return;
    /* Live calls ended with their connections (the loop closed every socket first); what is
     * left are ids with subscribers only, whose connections are gone too. */
    for (size_t b = 0; b < N_BUCKETS; b++) {
        topic_t *t = calls->buckets[b];
        while (t) {
            topic_t *next = t->next;
            stt_sink_release(stt_subs_sink(t->subs));
            free(t);
            t = next;
        }
    }
    stt_sink_release(calls->default_hook);
    stt_webhook_destroy(calls->wh);
    free(calls);
}

void stt_calls_stats(stt_calls_t *calls, stt_calls_stats_t *out)
{
    *out = calls->st;
    if (calls->wh) {
        stt_webhook_stats_t ws;
        stt_webhook_stats(calls->wh, &ws);
        out->webhook_ok = ws.ok;
        out->webhook_failed = ws.failed;
        out->webhook_retried = ws.retried;
        out->webhook_dropped = ws.dropped;
        out->webhook_queued = ws.queued;
    }
}

int stt_calls_subscribe(stt_calls_t *calls, const char *call_id, struct stt_conn *conn)
{
    if (stt_call_id_valid(call_id) != 0)
        return STT_EINVAL;
    topic_t *t = topic_get(calls, call_id);
    stt_subs_add(t->subs, conn);
    calls->st.subscribers_live++;
    return 0;
}

void stt_calls_unsubscribe(stt_calls_t *calls, const char *call_id, struct stt_conn *conn)
{
    if (!calls || !call_id)
        return;
    topic_t *t = topic_find(calls, call_id);
    if (!t || !stt_subs_remove(t->subs, conn))
        return;
    calls->st.subscribers_live--;
    topic_maybe_free(calls, t);
}

/* ---- events ---- */

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds with millisecond precision (stream times, durations). */
static void add_seconds(cJSON *o, const char *name, double s)
{
    cJSON_AddNumberToObject(o, name, (double)(long long)(s * 1000.0 + (s >= 0 ? 0.5 : -0.5)) / 1000.0);
}

/* The fields every event has; track < 0: a call-wide event (track and channel null). */
static cJSON *event_new(stt_call_t *call, const char *kind, int track, const char *track_name)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", kind);
    cJSON_AddStringToObject(o, "call_id", call->call_id);
    cJSON_AddStringToObject(o, "protocol", call->protocol);
    if (call->stream_id)
        cJSON_AddStringToObject(o, "stream_id", call->stream_id);
    else
        cJSON_AddNullToObject(o, "stream_id");
    if (track >= 0) {
        char name[32];
        if (!track_name) {
            snprintf(name, sizeof(name), "channel_%d", track + 1);
            track_name = name;
        }
        cJSON_AddStringToObject(o, "track", track_name);
        cJSON_AddNumberToObject(o, "channel", track + 1);
    } else {
        cJSON_AddNullToObject(o, "track");
        cJSON_AddNullToObject(o, "channel");
    }
    cJSON_AddNumberToObject(o, "seq", (double)++call->seq);
    cJSON_AddNumberToObject(o, "time", (double)(long long)(unix_now() * 1000.0) / 1000.0);
    return o;
}

/* Serialises the event once and hands it to every sink of the call; frees `o`. */
static void emit(stt_call_t *call, const char *kind, int track, cJSON *o)
{
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    stt_call_ref_t ref = {.call_id = call->call_id,
                          .protocol = call->protocol,
                          .track = track,
                          .conn_id = call->conn_id,
                          .key = call->key};
    stt_call_event_t ev = {.kind = kind, .json = json, .len = strlen(json), .seq = call->seq};
    call->calls->st.events_total++;
    stt_sink_set_emit(&call->sinks, &ref, &ev);
    cJSON_free(json);
}

static void add_result(cJSON *o, const stt_stream_event_t *ev, const char *text)
{
    const stt_result_t *r = ev->result;
    double off_s = (double)ev->start_sample / 16000.0;
    cJSON_AddNumberToObject(o, "utterance", ev->utt);
    cJSON_AddStringToObject(o, "text", text);
    if (r->confidence >= 0)
        cJSON_AddNumberToObject(o, "confidence", (double)(long long)(r->confidence * 1e4) / 1e4);
    else
        cJSON_AddNullToObject(o, "confidence");
    add_seconds(o, "start", off_s);
    add_seconds(o, "end", (double)ev->end_sample / 16000.0);
    cJSON *words = cJSON_AddArrayToObject(o, "words");
    for (size_t i = 0; i < r->n_words; i++) {
        cJSON *w = cJSON_CreateObject();
        cJSON_AddStringToObject(w, "word", r->words[i].word);
        add_seconds(w, "start", off_s + r->words[i].start_s);
        add_seconds(w, "end", off_s + r->words[i].end_s);
        if (r->words[i].confidence >= 0)
            cJSON_AddNumberToObject(w, "confidence",
                                    (double)(long long)(r->words[i].confidence * 1e4) / 1e4);
        else
            cJSON_AddNullToObject(w, "confidence");
        cJSON_AddItemToArray(words, w);
    }
}

int stt_call_stream_event(stt_call_t *call, int track, const char *track_name,
                          const stt_stream_event_t *ev)
{
    if (!call)
        return 0;
    int slot = track >= 0 && track < MAX_TRACKS ? track : -1;
    cJSON *o;
    switch (ev->kind) {
    case STT_SEV_SPEECH_START:
        o = event_new(call, "speech_start", track, track_name);
        add_seconds(o, "start", (double)ev->start_sample / 16000.0);
        emit(call, "speech_start", track, o);
        return 0;
    case STT_SEV_PARTIAL: {
        char *text = stt_text_trimmed(ev->result ? ev->result->text : "");
        /* An empty hypothesis, or the text this track's utterance already sent, is no news. */
        if (!text[0] || (slot >= 0 && call->last[slot].text && call->last[slot].utt == ev->utt &&
                         strcmp(call->last[slot].text, text) == 0)) {
            free(text);
            return 0;
        }
        o = event_new(call, "partial", track, track_name);
        add_result(o, ev, text);
        if (slot >= 0) {
            free(call->last[slot].text);
            call->last[slot].text = text;
            call->last[slot].utt = ev->utt;
        } else {
            free(text);
        }
        emit(call, "partial", track, o);
        return 1;
    }
    case STT_SEV_FINAL: {
        if (slot >= 0) {
            free(call->last[slot].text);
            call->last[slot].text = NULL;
        }
        char *text = stt_text_trimmed(ev->result ? ev->result->text : "");
        o = event_new(call, "final", track, track_name);
        add_result(o, ev, text);
        free(text);
        emit(call, "final", track, o);
        return 0;
    }
    case STT_SEV_FINAL_FAILED:
        if (slot >= 0) {
            free(call->last[slot].text);
            call->last[slot].text = NULL;
        }
        o = event_new(call, "final_failed", track, track_name);
        cJSON_AddNumberToObject(o, "utterance", ev->utt);
        cJSON_AddStringToObject(o, "code", ev->code ? ev->code : "transcription_failed");
        cJSON_AddStringToObject(o, "message", ev->message ? ev->message : "");
        emit(call, "final_failed", track, o);
        return 0;
    default:
        return 0;
    }
}

int stt_call_add_sink(stt_call_t *call, stt_sink_t *sink)
{
    return stt_sink_set_add(&call->sinks, sink);
}

void stt_call_dtmf(stt_call_t *call, int track, const char *track_name, const char *digit)
{
    if (!call)
        return;
    cJSON *o = event_new(call, "dtmf", track, track_name);
    cJSON_AddStringToObject(o, "digit", digit ? digit : "");
    emit(call, "dtmf", track, o);
}

/* ---- lifecycle of a call ---- */

static char *dup_or_null(const char *s)
{
    return s ? stt_strdup(s) : NULL;
}

/* The destination a call asked for, when the allow-list permits it. */
static void add_client_hook(stt_calls_t *calls, stt_call_t *call, const char *url)
{
    if (!url || !url[0])
        return;
    if (!calls->wh || !stt_webhook_url_allowed(&calls->cfg->webhook_allow, url)) {
        calls->st.webhook_urls_refused++;
        STT_WARN(call->conn_id, "webhook_refused",
                 "call %s asked for webhook '%.200s', which --webhook_allow does not permit",
                 call->call_id, url);
        return;
    }
    if (calls->cfg->webhook_url && strcmp(calls->cfg->webhook_url, url) == 0)
        return; /* the default destination already gets it */
    stt_sink_t *s = stt_webhook_sink(calls->wh, url);
    stt_sink_set_add(&call->sinks, s);
    stt_sink_release(s);
}

stt_call_t *stt_call_start(stt_calls_t *calls, const stt_call_info_t *info)
{
    if (!calls || stt_call_id_valid(info->call_id) != 0)
        return NULL;
    stt_call_t *call = stt_calloc(1, sizeof(*call));
    call->calls = calls;
    call->protocol = stt_strdup(info->protocol ? info->protocol : "");
    call->call_id = stt_strdup(info->call_id);
    call->stream_id = dup_or_null(info->stream_id);
    call->conn_id = info->conn_id;
    call->key = ++calls->next_key;
    call->started_s = unix_now();
    call->topic = topic_get(calls, info->call_id);
    call->topic->n_calls++;
    stt_sink_set_add(&call->sinks, stt_subs_sink(call->topic->subs));
    if (calls->default_hook)
        stt_sink_set_add(&call->sinks, calls->default_hook);
    add_client_hook(calls, call, info->webhook_url);
    calls->st.calls_live++;
    calls->st.calls_total++;

    cJSON *o = event_new(call, "call_start", -1, NULL);
    cJSON *params = cJSON_AddObjectToObject(o, "parameters");
    for (size_t i = 0; i < info->n_params; i++)
        if (info->params[i].name)
            cJSON_AddStringToObject(params, info->params[i].name,
                                    info->params[i].value ? info->params[i].value : "");
    emit(call, "call_start", -1, o);
    return call;
}

void stt_call_end(stt_call_t *call, const char *reason)
{
    if (!call)
        return;
    stt_calls_t *calls = call->calls;
    cJSON *o = event_new(call, "call_end", -1, NULL);
    cJSON_AddStringToObject(o, "reason", reason ? reason : "closed");
    add_seconds(o, "duration", unix_now() - call->started_s);
    emit(call, "call_end", -1, o);
    stt_call_ref_t ref = {.call_id = call->call_id,
                          .protocol = call->protocol,
                          .track = -1,
                          .conn_id = call->conn_id,
                          .key = call->key};
    stt_sink_set_clear(&call->sinks, &ref);
    call->topic->n_calls--;
    topic_maybe_free(calls, call->topic);
    calls->st.calls_live--;
    for (int i = 0; i < MAX_TRACKS; i++)
        free(call->last[i].text);
    free(call->protocol);
    free(call->call_id);
    free(call->stream_id);
    free(call);
}
