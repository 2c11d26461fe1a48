/* Client codecs of the data protocols; see client_proto.h. One section per protocol, then the
 * registry. */
#include "client_proto.h"

#include <stdio.h>
#include <string.h>

#include "stt/error.h"
#include "stt/rtstt_frame.h"

/* Fills in what a parse found; name and text are borrowed from ev->json (or static). */
static void event_set(stt_client_event_t *ev, stt_client_ev_kind_t kind, const char *name,
                      const char *text)
{
    ev->kind = kind;
    ev->name = name;
    ev->text = text;
}

/* ---- rtstt: RealtimeSTT data socket (docs/protocol.md section 3) --------------------------
 * Binary frames: uint32 LE metadata length, JSON metadata {"sampleRate": R, ...}, PCM16 LE.
 * Events are JSON objects with a "type": realtime, fullSentence, recording_start, ... */

/* {"sampleRate": 48000, "server_sent_to_stt": 9223372036854775807}: 61 bytes; room to spare. */
#define RTSTT_META_RESERVE 128

static size_t rtstt_audio_max_bytes(const stt_client_params_t *p, size_t n_samples)
{
    (void)p;
    return 4 + RTSTT_META_RESERVE + 2 * n_samples;
}

static size_t rtstt_audio(const stt_client_params_t *p, const int16_t *pcm, size_t n_samples,
                          int64_t stamp_ns, uint8_t *out, size_t cap)
{
    if (!stamp_ns)
        return stt_rtstt_frame_build(out, cap, p->rate_hz, pcm, n_samples, NULL);
    /* The RealtimeSTT clients' latency probe: the server measures from this stamp to the frame
     * having passed its VAD (stt_ingest_latency_seconds). */
    char stamp[48];
    snprintf(stamp, sizeof(stamp), "\"server_sent_to_stt\": %lld", (long long)stamp_ns);
    return stt_rtstt_frame_build(out, cap, p->rate_hz, pcm, n_samples, stamp);
}

static size_t no_opening(const stt_client_params_t *p, unsigned i, char *out, size_t cap)
{
    (void)p;
    (void)i;
    (void)out;
    (void)cap;
    return 0;
}

static const struct {
    const char *type;
    stt_client_ev_kind_t kind;
    const char *text_key; /* NULL: the event carries no text the tools use */
} rtstt_events[] = {
    {"realtime", STT_CLIENT_EV_PARTIAL, "text"},
    {"fullSentence", STT_CLIENT_EV_FINAL, "text"},
    {"error", STT_CLIENT_EV_ERROR, "message"},
    {"recording_start", STT_CLIENT_EV_SPEECH_START, NULL},
    {"recording_stop", STT_CLIENT_EV_SPEECH_END, NULL},
    {"vad_detect_start", STT_CLIENT_EV_LISTENING, NULL},
};

static void rtstt_parse(const char *buf, size_t len, stt_client_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->json = cJSON_ParseWithLength(buf, len);
    const char *type = stt_tool_json_str(ev->json, "type");
    if (!type)
        return; /* UNPARSED */
    for (size_t i = 0; i < sizeof(rtstt_events) / sizeof(rtstt_events[0]); i++) {
        if (strcmp(type, rtstt_events[i].type) == 0) {
            const char *key = rtstt_events[i].text_key;
            event_set(ev, rtstt_events[i].kind, type,
                      key ? stt_tool_json_str(ev->json, key) : NULL);
            return;
        }
    }
    event_set(ev, STT_CLIENT_EV_OTHER, type, NULL);
}

static const stt_client_proto_t proto_rtstt = {
    .name = "rtstt",
    .default_path = "/",
    .opening = no_opening,
    .audio_max_bytes = rtstt_audio_max_bytes,
    .audio = rtstt_audio,
    .parse = rtstt_parse,
};

/* ---- vosk: vosk-server's WebSocket protocol -------------------------------------------------
 * An optional first text message {"config": {"sample_rate": R}}, binary PCM16 LE chunks, and
 * the text message {"eof" : 1}, spelt exactly so: vosk-server compares the string, it does not
 * parse it. The server answers every chunk, with {"partial": "..."} (empty while it has no
 * words) or, when an utterance ended, {"text": "...", "result": [...]} ({"alternatives":
 * [{"text": ...}, ...]} when alternatives were asked for); it answers eof with the last final
 * and closes. */

static size_t vosk_opening(const stt_client_params_t *p, unsigned i, char *out, size_t cap)
{
    if (i > 0)
        return 0;
    int n = snprintf(out, cap, "{\"config\": {\"sample_rate\": %d}}", p->rate_hz);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static size_t vosk_audio_max_bytes(const stt_client_params_t *p, size_t n_samples)
{
    (void)p;
    return 2 * n_samples;
}

static size_t vosk_audio(const stt_client_params_t *p, const int16_t *pcm, size_t n_samples,
                         int64_t stamp_ns, uint8_t *out, size_t cap)
{
    (void)p;
    (void)stamp_ns; /* the protocol has no field for it */
    if (n_samples > cap / 2)
        return 0;
    stt_tool_s16_to_le(pcm, n_samples, out);
    return 2 * n_samples;
}

static void vosk_parse(const char *buf, size_t len, stt_client_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->json = cJSON_ParseWithLength(buf, len);
    if (!cJSON_IsObject(ev->json))
        return; /* UNPARSED */
    const char *text;
    if ((text = stt_tool_json_str(ev->json, "partial"))) {
        event_set(ev, STT_CLIENT_EV_PARTIAL, "partial", text);
    } else if ((text = stt_tool_json_str(ev->json, "text"))) {
        event_set(ev, STT_CLIENT_EV_FINAL, "text", text);
    } else {
        const cJSON *alt = cJSON_GetObjectItemCaseSensitive(ev->json, "alternatives");
        if (cJSON_IsArray(alt) && (text = stt_tool_json_str(cJSON_GetArrayItem(alt, 0), "text")))
            event_set(ev, STT_CLIENT_EV_FINAL, "alternatives", text);
    }
}

static const stt_client_proto_t proto_vosk = {
    .name = "vosk",
    .default_path = "/vosk",
    .opening = vosk_opening,
    .audio_max_bytes = vosk_audio_max_bytes,
    .audio = vosk_audio,
    .eos = "{\"eof\" : 1}",
    .closes_after_eos = 1,
    .repeats_partials = 1,
    .parse = vosk_parse,
};

/* ---- registry ------------------------------------------------------------------------------ */

/* Keep STT_CLIENT_PROTO_NAMES in step, default first. */
static const stt_client_proto_t *const protos[] = {&proto_rtstt, &proto_vosk};

const stt_client_proto_t *stt_client_proto_find(const char *name)
{
    for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
        if (strcmp(protos[i]->name, name) == 0)
            return protos[i];
    return NULL;
}

const stt_client_proto_t *stt_client_proto_default(void)
{
    return protos[0];
}

int stt_client_proto_opt(void *out, const char *prog, const char *arg)
{
    const stt_client_proto_t *p = stt_client_proto_find(arg);
    if (!p) {
        fprintf(stderr, "%s: --protocol must be one of " STT_CLIENT_PROTO_NAMES "\n", prog);
        return STT_EINVAL;
    }
    *(const stt_client_proto_t **)out = p;
    return 0;
}

int stt_client_proto_target(stt_tool_target_t *t, const stt_client_proto_t *proto,
                            const stt_client_params_t *p, const char *url, const char *session)
{
    char query[512];
    size_t qlen = proto->query ? proto->query(p, query, sizeof(query)) : 0;
    return stt_tool_target_parse(t, url, proto->default_path, qlen ? query : NULL, session);
}

void stt_client_event_dispose(stt_client_event_t *ev)
{
    cJSON_Delete(ev->json);
    memset(ev, 0, sizeof(*ev));
}
