/* Client codecs of the data protocols; see client_proto.h. One section per protocol, then the
 * registry. */
#include "client_proto.h"

#include <stdio.h>
#include <string.h>

#include "mulaw.h"
#include "stt/audiosocket.h"
#include "stt/error.h"
#include "stt/rtstt_frame.h"
#include "stt/text.h"

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
                          int64_t stamp_ns, uint64_t index, uint64_t sample, uint8_t *out,
                          size_t cap)
{
    (void)index;
    (void)sample;
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

static size_t l16_audio_max_bytes(const stt_client_params_t *p, size_t n_samples)
{
    (void)p;
    return 2 * n_samples;
}

/* Binary PCM16 LE, no header: vosk, jambonz, audio_fork. */
static size_t l16_audio(const stt_client_params_t *p, const int16_t *pcm, size_t n_samples,
                        int64_t stamp_ns, uint64_t index, uint64_t sample, uint8_t *out,
                        size_t cap)
{
    (void)p;
    (void)stamp_ns; /* the protocols have no field for it */
    (void)index;
    (void)sample;
    if (n_samples > cap / 2)
        return 0;
    stt_tool_s16_to_le(pcm, n_samples, out);
    return 2 * n_samples;
}

/* A fixed text message. */
static size_t fixed_text(const char *msg, char *out, size_t cap)
{
    size_t n = strlen(msg);
    if (n >= cap)
        return 0;
    memcpy(out, msg, n + 1);
    return n;
}

static size_t vosk_eos(const stt_client_params_t *p, uint64_t n_audio, char *out, size_t cap)
{
    (void)p;
    (void)n_audio;
    return fixed_text("{\"eof\" : 1}", out, cap);
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
    .audio_max_bytes = l16_audio_max_bytes,
    .audio = l16_audio,
    .eos = vosk_eos,
    .closes_after_eos = 1,
    .repeats_partials = 1,
    .parse = vosk_parse,
};

/* ---- call identities ----------------------------------------------------------------------- */

static const char *call_id_of(const stt_client_params_t *p)
{
    return p->call_id && *p->call_id ? p->call_id : "call";
}

static uint64_t fnv1a(const char *s, uint64_t h)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

void stt_client_call_uuid(const char *call_id, uint8_t out[16])
{
    const char *id = call_id && *call_id ? call_id : "call";
    uint64_t a = fnv1a(id, 0xcbf29ce484222325ull), b = fnv1a(id, 0x84222325cbf29ce4ull);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(a >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(b >> (56 - 8 * i));
    }
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x40); /* version 4 */
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* variant 1 */
}

/* prefix (2 letters) and the call's UUID in 32 lower-case hex digits: a Twilio-style SID. */
static void call_sid(const stt_client_params_t *p, const char *prefix, char out[35])
{
    uint8_t u[16];
    stt_client_call_uuid(call_id_of(p), u);
    out[0] = prefix[0];
    out[1] = prefix[1];
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 + 2 * i, 3, "%02x", u[i]);
}

/* s as the inside of a JSON string (no quotes) into out; the written length, or cap when it
 * does not fit. */
static size_t json_escape(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[8];
        size_t k;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            k = 2;
        } else if (c < 0x20) {
            k = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", c);
        } else {
            tmp[0] = (char)c;
            k = 1;
        }
        if (n + k >= cap)
            return cap;
        memcpy(out + n, tmp, k);
        n += k;
    }
    out[n] = '\0';
    return n;
}

/* snprintf's result as a message length: 0 when it did not fit. */
static size_t fitted(int n, size_t cap)
{
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ---- twilio: Twilio Media Streams (spec section 1) ------------------------------------------
 * Text JSON only: `connected`, `start` (streamSid, callSid, customParameters {call_id},
 * mediaFormat audio/x-mulaw 8000 Hz mono), one `media` per chunk (base64 mu-law, counters as
 * strings as Twilio's examples spell them: sequenceNumber counts every message from start = 1,
 * chunk counts media messages from 1, timestamp is ms since the stream started), `stop`. The
 * server sends nothing back on a unidirectional stream (its results go out of band). */

#define TWILIO_ACCOUNT_SID "AC00000000000000000000000000000000"
#define TWILIO_RATE_HZ 8000
#define TWILIO_MEDIA_OVERHEAD 256 /* the media message less its payload; it takes ~140 */

static size_t twilio_opening(const stt_client_params_t *p, unsigned i, char *out, size_t cap)
{
    if (i == 0)
        return fixed_text("{\"event\":\"connected\",\"protocol\":\"Call\",\"version\":\"1.0.0\"}",
                         out, cap);
    if (i > 1)
        return 0;
    char stream[35], call[35], id[160];
    call_sid(p, "MZ", stream);
    call_sid(p, "CA", call);
    if (json_escape(call_id_of(p), id, sizeof(id)) >= sizeof(id))
        return 0;
    int n = snprintf(out, cap,
                     "{\"event\":\"start\",\"sequenceNumber\":\"1\",\"start\":{\"accountSid\":\""
                     TWILIO_ACCOUNT_SID "\",\"streamSid\":\"%s\",\"callSid\":\"%s\",\"tracks\":"
                     "[\"inbound\"],\"customParameters\":{\"call_id\":\"%s\"},\"mediaFormat\":{"
                     "\"encoding\":\"audio/x-mulaw\",\"sampleRate\":8000,\"channels\":1}},"
                     "\"streamSid\":\"%s\"}",
                     stream, call, id, stream);
    return fitted(n, cap);
}

static size_t twilio_audio_max_bytes(const stt_client_params_t *p, size_t n_samples)
{
    if (p->rate_hz != TWILIO_RATE_HZ)
        return 0;
    return TWILIO_MEDIA_OVERHEAD + stt_base64_encoded_len(n_samples);
}

static size_t twilio_audio(const stt_client_params_t *p, const int16_t *pcm, size_t n_samples,
                           int64_t stamp_ns, uint64_t index, uint64_t sample, uint8_t *out,
                           size_t cap)
{
    (void)stamp_ns; /* no field for it: the server measures from media.timestamp */
    if (p->rate_hz != TWILIO_RATE_HZ || cap < twilio_audio_max_bytes(p, n_samples))
        return 0;
    char stream[35];
    call_sid(p, "MZ", stream);
    char *o = (char *)out;
    int n = snprintf(o, cap,
                     "{\"event\":\"media\",\"sequenceNumber\":\"%llu\",\"media\":{\"track\":"
                     "\"inbound\",\"chunk\":\"%llu\",\"timestamp\":\"%llu\",\"payload\":\"",
                     (unsigned long long)(index + 2), (unsigned long long)(index + 1),
                     (unsigned long long)(sample * 1000 / TWILIO_RATE_HZ));
    if (n <= 0 || (size_t)n >= cap)
        return 0;
    size_t len = (size_t)n;
    /* Whole groups of 3 bytes per piece, so the pieces' base64 is the whole payload's. */
    for (size_t i = 0; i < n_samples;) {
        uint8_t ul[48];
        size_t k = n_samples - i < sizeof(ul) ? n_samples - i : sizeof(ul);
        stt_tool_mulaw_encode(pcm + i, k, ul);
        len += stt_base64_encode(ul, k, o + len);
        i += k;
    }
    n = snprintf(o + len, cap - len, "\"},\"streamSid\":\"%s\"}", stream);
    if (n <= 0 || (size_t)n >= cap - len)
        return 0;
    return len + (size_t)n;
}

static size_t twilio_eos(const stt_client_params_t *p, uint64_t n_audio, char *out, size_t cap)
{
    char stream[35], call[35];
    call_sid(p, "MZ", stream);
    call_sid(p, "CA", call);
    int n = snprintf(out, cap,
                     "{\"event\":\"stop\",\"sequenceNumber\":\"%llu\",\"streamSid\":\"%s\","
                     "\"stop\":{\"accountSid\":\"" TWILIO_ACCOUNT_SID "\",\"callSid\":\"%s\"}}",
                     (unsigned long long)(n_audio + 2), stream, call);
    return fitted(n, cap);
}

/* Whatever arrives (nothing should on a unidirectional stream) is counted, never read. */
static void other_parse(const char *buf, size_t len, stt_client_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->json = cJSON_ParseWithLength(buf, len);
    if (cJSON_IsObject(ev->json))
        event_set(ev, STT_CLIENT_EV_OTHER, stt_tool_json_str(ev->json, "event"), NULL);
}

static const stt_client_proto_t proto_twilio = {
    .name = "twilio",
    .default_path = "/twilio",
    .default_rate_hz = TWILIO_RATE_HZ,
    .opening = twilio_opening,
    .audio_is_text = 1,
    .audio_max_bytes = twilio_audio_max_bytes,
    .audio = twilio_audio,
    .eos = twilio_eos,
    .results_out_of_band = 1,
    .parse = other_parse,
};

/* ---- jambonz: jambonz's custom speech vendor STT API (spec section 4.1) ---------------------
 * "Authorization: Bearer KEY" on the upgrade when a key is set, no subprotocol; the text `start`
 * (LINEAR16 at the send rate, interim results asked for, options.callSid), binary PCM16 LE,
 * the text {"type": "stop"}, after which the server sends its last finals and closes. Server:
 * {"type": "transcription", "is_final": b, "alternatives": [{"transcript": ...}]} and
 * {"type": "error", "error": ...}. */

static size_t jambonz_authorization(const stt_client_params_t *p, char *out, size_t cap)
{
    if (!p->api_key || !*p->api_key)
        return 0;
    return fitted(snprintf(out, cap, "Bearer %s", p->api_key), cap);
}

static size_t jambonz_opening(const stt_client_params_t *p, unsigned i, char *out, size_t cap)
{
    if (i > 0)
        return 0;
    char sid[35];
    call_sid(p, "CA", sid);
    int n = snprintf(out, cap,
                     "{\"type\":\"start\",\"language\":\"en-US\",\"format\":\"raw\",\"encoding\":"
                     "\"LINEAR16\",\"interimResults\":true,\"sampleRateHz\":%d,\"options\":{"
                     "\"callSid\":\"%s\"}}",
                     p->rate_hz, sid);
    return fitted(n, cap);
}

static size_t jambonz_eos(const stt_client_params_t *p, uint64_t n_audio, char *out, size_t cap)
{
    (void)p;
    (void)n_audio;
    return fixed_text("{\"type\":\"stop\"}", out, cap);
}

/* A transcription object (jambonz's own, or audio_fork's "data"): is_final and
 * alternatives[0].transcript. */
static void transcription_event(stt_client_event_t *ev, const cJSON *t)
{
    const cJSON *alt = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t, "alternatives"), 0);
    const char *text = stt_tool_json_str(alt, "transcript");
    if (!text)
        text = stt_tool_json_str(t, "text");
    int final = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "is_final"));
    event_set(ev, final ? STT_CLIENT_EV_FINAL : STT_CLIENT_EV_PARTIAL, "transcription", text);
}

static void jambonz_parse(const char *buf, size_t len, stt_client_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->json = cJSON_ParseWithLength(buf, len);
    const char *type = stt_tool_json_str(ev->json, "type");
    if (!type)
        return; /* UNPARSED */
    if (strcmp(type, "transcription") == 0) {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev->json, "data");
        transcription_event(ev, cJSON_IsObject(data) ? data : ev->json);
    } else if (strcmp(type, "error") == 0) {
        /* jambonz: "error": "..."; audio_fork: "data": {"error": "..."} */
        const char *msg = stt_tool_json_str(ev->json, "error");
        if (!msg)
            msg = stt_tool_json_str(cJSON_GetObjectItemCaseSensitive(ev->json, "data"), "error");
        event_set(ev, STT_CLIENT_EV_ERROR, type, msg);
    } else {
        event_set(ev, STT_CLIENT_EV_OTHER, type, NULL);
    }
}

static const stt_client_proto_t proto_jambonz = {
    .name = "jambonz",
    .default_path = "/jambonz",
    .default_rate_hz = 8000,
    .authorization = jambonz_authorization,
    .opening = jambonz_opening,
    .audio_max_bytes = l16_audio_max_bytes,
    .audio = l16_audio,
    .eos = jambonz_eos,
    .closes_after_eos = 1,
    .parse = jambonz_parse,
};

/* ---- audiofork: FreeSWITCH mod_audio_fork / jambonz `listen` (spec sections 3.1, 4.2) -------
 * Subprotocol audio.jambonz.org; the first text message is the metadata, jambonz listen's shape
 * (callSid, from, to, sampleRate, mixType, the user's metadata); then binary PCM16 LE mono; the
 * fork ends with a close (no end-of-stream message). In-band results, where the server sends
 * them, are {"type": "transcription", "data": {...}} and read as jambonz's. */

static size_t audiofork_opening(const stt_client_params_t *p, unsigned i, char *out, size_t cap)
{
    if (i > 0)
        return 0;
    char sid[35], id[160];
    call_sid(p, "CA", sid);
    if (json_escape(call_id_of(p), id, sizeof(id)) >= sizeof(id))
        return 0;
    int n = snprintf(out, cap,
                     "{\"callSid\":\"%s\",\"from\":\"+15550100\",\"to\":\"+15550199\","
                     "\"direction\":\"inbound\",\"sampleRate\":%d,\"mixType\":\"mono\","
                     "\"metadata\":{\"call_id\":\"%s\"}}",
                     sid, p->rate_hz, id);
    return fitted(n, cap);
}

static const stt_client_proto_t proto_audiofork = {
    .name = "audiofork",
    .default_path = "/audio_fork",
    .default_rate_hz = 8000,
    .subprotocol = "audio.jambonz.org",
    .opening = audiofork_opening,
    .audio_max_bytes = l16_audio_max_bytes,
    .audio = l16_audio,
    .results_out_of_band = 1,
    .parse = jambonz_parse,
};

/* ---- audiosocket: Asterisk AudioSocket over raw TCP (spec section 2.1) ----------------------
 * TLV messages type(1) | length(2, big-endian) | payload: first 0x01 with the call's UUID (16
 * bytes), then one slin message per chunk (0x10 at 8 kHz, 0x11..0x18 at the other rates), and
 * the end is a plain close, as Asterisk does. The server sends nothing the tools read. */

static uint8_t audiosocket_type(int rate_hz)
{
    for (unsigned t = 0x10; t <= 0x18; t++)
        if (stt_as_rate((uint8_t)t) == rate_hz)
            return (uint8_t)t;
    return 0;
}

static size_t audiosocket_opening(const stt_client_params_t *p, unsigned i, char *out,
                                  size_t cap)
{
    if (i > 0 || cap < 19)
        return 0;
    uint8_t *o = (uint8_t *)out;
    stt_as_header(0x01, 16, o);
    stt_client_call_uuid(call_id_of(p), o + 3);
    return 19;
}

static size_t audiosocket_audio_max_bytes(const stt_client_params_t *p, size_t n_samples)
{
    if (!audiosocket_type(p->rate_hz) || 2 * n_samples > STT_AS_MAX_PAYLOAD)
        return 0;
    return 3 + 2 * n_samples;
}

static size_t audiosocket_audio(const stt_client_params_t *p, const int16_t *pcm,
                                size_t n_samples, int64_t stamp_ns, uint64_t index,
                                uint64_t sample, uint8_t *out, size_t cap)
{
    (void)stamp_ns;
    (void)index;
    (void)sample;
    size_t need = audiosocket_audio_max_bytes(p, n_samples);
    if (need == 0 || need > cap)
        return 0;
    stt_as_header(audiosocket_type(p->rate_hz), (uint16_t)(2 * n_samples), out);
    stt_tool_s16_to_le(pcm, n_samples, out + 3);
    return need;
}

static void unparsed(const char *buf, size_t len, stt_client_event_t *ev)
{
    (void)buf;
    (void)len;
    memset(ev, 0, sizeof(*ev));
}

static const stt_client_proto_t proto_audiosocket = {
    .name = "audiosocket",
    .transport = STT_CLIENT_TRANSPORT_TCP,
    .default_rate_hz = 8000,
    .opening = audiosocket_opening,
    .audio_max_bytes = audiosocket_audio_max_bytes,
    .audio = audiosocket_audio,
    .results_out_of_band = 1,
    .parse = unparsed,
};

/* ---- registry ------------------------------------------------------------------------------ */

/* Keep STT_CLIENT_PROTO_NAMES in step, default first. */
static const stt_client_proto_t *const protos[] = {
    &proto_rtstt, &proto_vosk, &proto_twilio, &proto_jambonz, &proto_audiofork, &proto_audiosocket,
};

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
    int rc = stt_tool_target_parse(t, url, proto->default_path, qlen ? query : NULL, session);
    if (rc == 0 && t->raw != (proto->transport == STT_CLIENT_TRANSPORT_TCP))
        return STT_EINVAL;
    return rc;
}

void stt_client_event_dispose(stt_client_event_t *ev)
{
    cJSON_Delete(ev->json);
    memset(ev, 0, sizeof(*ev));
}
